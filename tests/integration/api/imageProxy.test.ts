/**
 * GET /api/image-proxy?url= at the route level (DESIGN.md §6), end to end: a signed-in user gets
 * a result image the simulator generated, with nosniff and an image type; everything an attacker
 * could aim the proxy at — loopback (v4, v6, integer and short spellings, allowed names resolving
 * to it), link-local, private ranges, other schemes, hosts not allowed, and redirects into any of
 * them — is refused without a single connection to the "victim" servers listening on loopback.
 * (The URL guard's own unit and integration tests live in tests/{unit,integration}/security.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { GET as imageProxy } from "@/app/api/image-proxy/route";
import { loadConfig } from "@/config";
import { type App, createApp, installApp } from "@/lib/app";
import { issueDevToken } from "@/lib/auth";
import { createLogger } from "@/lib/observability/logger";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { makeImage } from "../../unit/security/fixtures";

interface CountingServer {
  port: number;
  origin: string;
  connections(): number;
  requests(): string[];
  close(): Promise<void>;
}

/** An HTTP server on a loopback address that counts every TCP connection it accepts. */
async function countingServer(
  host: "127.0.0.1" | "::1",
  handle: (
    url: URL,
    respond: (status: number, headers: Record<string, string>, body?: Buffer) => void,
  ) => void,
): Promise<CountingServer> {
  let connections = 0;
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request.url ?? "");
    handle(new URL(request.url ?? "/", "http://server"), (status, headers, body) =>
      response.writeHead(status, headers).end(body),
    );
  });
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    origin: host === "::1" ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describeEachDatabase("api: GET /api/image-proxy", (getDb) => {
  let png: Buffer;
  let victim: CountingServer;
  let victim6: CountingServer;
  let redirector: CountingServer;
  let h: Harness;
  let redirectingApp: App;
  let dataDir: string;

  /** Every place an attacker would like the proxy to reach; none of them may see a connection. */
  const forbiddenTargets = () => [
    `${victim.origin}/secret.png`,
    `https://127.0.0.1:${victim.port}/secret.png`,
    `https://localhost:${victim.port}/secret.png`, // an allowed name that resolves to loopback
    `https://runsc:${victim.port}/secret.png`, // another name for 127.0.0.1 (/etc/hosts)
    `http://localhost:${victim.port}/secret.png`,
    `${victim6.origin}/secret.png`,
    `https://[::1]:${victim6.port}/secret.png`,
    `https://[::ffff:127.0.0.1]:${victim.port}/secret.png`,
    `https://2130706433:${victim.port}/secret.png`,
    `https://0x7f000001:${victim.port}/secret.png`,
    `https://017700000001:${victim.port}/secret.png`,
    `https://127.1:${victim.port}/secret.png`,
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/a.png",
    "https://10.0.0.1/a.png",
    "https://172.16.0.1/a.png",
    "https://192.168.1.1/a.png",
    "https://[fd00::1]/a.png",
    "file:///etc/passwd",
    `ftp://127.0.0.1:${victim.port}/secret.png`,
    `gopher://127.0.0.1:${victim.port}/_GET%20/`,
    "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)",
    "https://evil.example/a.png",
    "https://tempfile.aiquickdraw.com.evil.example/a.png",
    "https://user:secret@tempfile.aiquickdraw.com/a.png",
  ];

  beforeAll(async () => {
    png = await makeImage("png");
    const victimHandler = (_url: URL, respond: (s: number, h: Record<string, string>, b?: Buffer) => void) =>
      respond(200, { "content-type": "image/png" }, png);
    victim = await countingServer("127.0.0.1", victimHandler);
    victim6 = await countingServer("::1", victimHandler);
    // Plays a compromised simulator: the one origin the app trusts, redirecting wherever it is told.
    redirector = await countingServer("127.0.0.1", (url, respond) => {
      if (url.pathname === "/image.png") return respond(200, { "content-type": "image/png" }, png);
      const to = url.searchParams.get("to");
      if (url.pathname === "/redirect" && to) return respond(302, { location: to });
      const hops = url.pathname.match(/^\/chain\/(\d+)$/);
      if (hops && to) {
        const left = Number(hops[1]);
        const next = left === 0 ? to : `/chain/${left - 1}?to=${encodeURIComponent(to)}`;
        return respond(302, { location: next });
      }
      return respond(404, {});
    });

    const allowedHosts = `tempfile.aiquickdraw.com,localhost,localhost:${victim.port},runsc:${victim.port}`;
    h = await startHarness({ database: getDb(), env: { IMAGE_PROXY_ALLOWED_HOSTS: allowedHosts } });

    dataDir = mkdtempSync(path.join(tmpdir(), "nb-proxy-redirects-"));
    redirectingApp = await createApp(
      loadConfig({
        DATA_DIR: dataDir,
        KIE_BASE_URL: h.sim.url,
        LOG_LEVEL: "silent",
        IMAGE_PROXY_ALLOWED_HOSTS: allowedHosts,
      }),
      { database: getDb(), simulatorOrigin: redirector.origin, logger: createLogger({ level: "silent" }) },
    );
  });

  afterAll(async () => {
    await redirectingApp?.close();
    await h?.close();
    await Promise.all([victim?.close(), victim6?.close(), redirector?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    installApp(h.app);
  });

  const proxyPath = (target: string) => `/api/image-proxy?url=${encodeURIComponent(target)}`;

  it("serves a result image the simulator generated, with nosniff and an image content type", async () => {
    const { token } = await h.signIn();
    const generated = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "a framed photograph", outputFormat: "png" }),
    });
    const job = await generated.json();
    expect(generated.status, JSON.stringify(job)).toBe(200);
    // KIE's own URL (imageUrl is our stored copy's link, DESIGN.md §9).
    expect(job.sourceUrl.startsWith(h.sim.url)).toBe(true);

    const response = await h.fetch(proxyPath(job.sourceUrl), { token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const proxied = Buffer.from(await response.arrayBuffer());
    const direct = Buffer.from(await (await fetch(job.sourceUrl)).arrayBuffer());
    expect(proxied.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    expect(proxied.equals(direct)).toBe(true);
  });

  it("answers 401 without a valid token, before fetching anything", async () => {
    const { token } = await h.signIn();
    const generated = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "a private picture" }),
    });
    const { sourceUrl: imageUrl } = await generated.json();
    const served = h.sim.stats().calls.files;
    for (const headers of [{}, { authorization: "Bearer not-a-token" }] as Record<string, string>[]) {
      const response = await h.fetch(proxyPath(imageUrl), { headers });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("unauthorized");
    }
    expect(h.sim.stats().calls.files).toBe(served);
  });

  it("refuses loopback, link-local, private, encoded IPs, other schemes and hosts — no connection made", async () => {
    const { token } = await h.signIn();
    for (const target of forbiddenTargets()) {
      const response = await h.fetch(proxyPath(target), { token });
      expect(response.status, target).toBe(400);
      const body = await response.json();
      expect(body.error.code, target).toBe("invalid_request");
      expect(body.error.message, target).not.toContain(String(victim.port));
      expect(response.headers.get("content-type"), target).toMatch(/^application\/json/);
    }
    expect(victim.connections()).toBe(0);
    expect(victim6.connections()).toBe(0);
  });

  it("follows a redirect within the trusted origin, but refuses redirects into any of those places", async () => {
    installApp(redirectingApp);
    const token = (
      await issueDevToken({ email: "redirects@example.com" }, redirectingApp.devSecret as Uint8Array)
    ).accessToken;
    const get = (target: string) =>
      imageProxy(
        new Request(`http://localhost${proxyPath(target)}`, {
          headers: { authorization: `Bearer ${token}` },
        }),
      );

    // Control: redirects are followed when they stay where they may go.
    const followed = await get(`${redirector.origin}/redirect?to=${encodeURIComponent("/image.png")}`);
    expect(followed.status).toBe(200);
    expect(Buffer.from(await followed.arrayBuffer()).equals(png)).toBe(true);

    const before = redirector.requests().length;
    const targets = forbiddenTargets();
    for (const target of targets) {
      for (const start of [
        `${redirector.origin}/redirect?to=${encodeURIComponent(target)}`,
        `${redirector.origin}/chain/2?to=${encodeURIComponent(target)}`,
      ]) {
        const response = await get(start);
        expect(response.status, `${start} → ${target}`).toBe(400);
        expect((await response.json()).error.code).toBe("invalid_request");
      }
    }
    // The redirector was asked every time (1 + 3 hops per target); the victims never were.
    expect(redirector.requests().length - before).toBe(targets.length * 4);
    expect(victim.connections()).toBe(0);
    expect(victim6.connections()).toBe(0);
  });
});
