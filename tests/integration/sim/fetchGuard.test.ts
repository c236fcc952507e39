/**
 * kie-sim fetches a caller's image_urls / fileUrl only from its own origin or through the address
 * guard (DESIGN.md §6): a loopback listener (the canary) never sees a connection, not even through
 * a redirect from a host the sim may fetch, and the answer names no address or network error.
 */
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isForbiddenAddress } from "@/sim/fetchGuard";
import type { RunningKieSim } from "@/sim/server";
import { call, startTestSim } from "./simTestKit";

let canary: Server;
let canaryUrl = "";
let connections = 0;
let redirector: ReturnType<typeof createHttpServer>;
let redirectorUrl = "";
let sim: RunningKieSim;

beforeAll(async () => {
  canary = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => canary.listen(0, "127.0.0.1", resolve));
  canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
  // A host the sim is allowed to fetch from, which redirects to the canary.
  redirector = createHttpServer((_req, res) => {
    res.writeHead(302, { location: `${canaryUrl}/secret.png` }).end();
  });
  await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
  redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  sim = await startTestSim({ trustedFetchOrigins: [redirectorUrl] });
});

afterAll(async () => {
  await sim.close();
  await new Promise<void>((resolve) => canary.close(() => resolve()));
  redirector.closeAllConnections();
  await new Promise<void>((resolve) => redirector.close(() => resolve()));
});

async function editTask(imageUrl: string) {
  const created = await call(sim, "/api/v1/jobs/createTask", {
    body: { model: "google/nano-banana-edit", input: { prompt: "p", image_urls: [imageUrl] } },
  });
  expect(created.status, created.text).toBe(200);
  const taskId = created.json.data.taskId as string;
  for (let i = 0; i < 300; i++) {
    const info = await call(sim, `/api/v1/jobs/recordInfo?taskId=${taskId}`);
    const state = info.json?.data?.state;
    if (state === "success" || state === "fail") return info;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the task never finished");
}

const NETWORK_DETAIL = /127\.0\.0\.1|ECONN|EHOSTUNREACH|ENOTFOUND|certificate|TLS|socket|forbidden address/i;

describe("kie-sim outbound fetches", () => {
  it("image_urls on loopback (an IP literal, https or http): the task fails like KIE's, no connection", async () => {
    const port = (canary.address() as AddressInfo).port;
    for (const url of [
      `https://127.0.0.1:${port}/a.png`,
      `${canaryUrl}/a.png`,
      `http://[::1]:${port}/a.png`,
    ]) {
      const info = await editTask(url);
      expect(info.json.data.state).toBe("fail");
      expect(info.json.data.failMsg).toMatch(/could not be fetched/);
      expect(info.json.data.failMsg).not.toMatch(NETWORK_DETAIL);
    }
    expect(connections).toBe(0);
  });

  it("a name that resolves to loopback is refused at connect time", async () => {
    const port = (canary.address() as AddressInfo).port;
    const info = await editTask(`http://localhost:${port}/a.png`);
    expect(info.json.data.state).toBe("fail");
    expect(info.json.data.failMsg).not.toMatch(NETWORK_DETAIL);
    expect(connections).toBe(0);
  });

  it("a redirect to a forbidden address is checked again and refused", async () => {
    const info = await editTask(`${redirectorUrl}/photo.png`);
    expect(info.json.data.state).toBe("fail");
    expect(connections).toBe(0);
  });

  it("fileUrl uploads the same: refused without a connection, and the answer names no network detail", async () => {
    const answer = await call(sim, "/api/file-url-upload", {
      body: { fileUrl: `${canaryUrl}/secret.png`, uploadPath: "images" },
    });
    expect(answer.json).toMatchObject({
      success: false,
      msg: "fileUrl could not be downloaded: the download failed",
    });
    expect(answer.text).not.toMatch(/ECONN|EHOSTUNREACH|forbidden address|socket/i);
    expect(connections).toBe(0);
  });

  it("classifies addresses like the proxy's guard", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "169.254.169.254",
      "192.168.1.1",
      "::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "0.0.0.0",
    ]) {
      expect(isForbiddenAddress(ip), ip).toBe(true);
    }
    for (const ip of ["8.8.8.8", "2606:4700:4700::1111"]) expect(isForbiddenAddress(ip), ip).toBe(false);
  });
});
