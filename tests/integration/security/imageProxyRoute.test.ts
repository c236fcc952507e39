/**
 * GET /api/image-proxy through the real route handler and app wiring (createApp + installApp),
 * with an in-memory PGlite and a local image server standing in for the simulator the app trusts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GET } from "@/app/api/image-proxy/route";
import { loadConfig } from "@/config";
import { type App, createApp, installApp } from "@/lib/app";
import { issueDevToken } from "@/lib/auth";
import { createLogger } from "@/lib/observability/logger";
import { createTestDatabase, type TestDatabase } from "@/tests/helpers/database";
import { makeImage, TEXT } from "../../unit/security/fixtures";
import { startTestServer, type TestServer } from "./testServer";

let png: Buffer;
let images: TestServer;
let victim: TestServer;
let database: TestDatabase;
let dataDir: string;
let simulatorApp: App;
let productionApp: App;
let token: string;

async function startApp(env: Record<string, string>): Promise<App> {
  const config = loadConfig({
    KIE_BASE_URL: "http://127.0.0.1:9",
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    ...env,
  });
  return createApp(config, {
    database: database.database,
    simulatorOrigin: images.origin,
    logger: createLogger({ level: "silent" }),
  });
}

beforeAll(async () => {
  png = await makeImage("png");
  images = await startTestServer((request, response) => {
    if (request.url === "/images/a.png")
      return response.writeHead(200, { "content-type": "image/png" }).end(png);
    if (request.url === "/note.txt")
      return response.writeHead(200, { "content-type": "image/png" }).end(TEXT);
    return response.writeHead(404).end();
  });
  victim = await startTestServer((_request, response) => response.end("internal"));
  database = await createTestDatabase("pglite");
  dataDir = mkdtempSync(path.join(tmpdir(), "nb-image-proxy-"));
  simulatorApp = await startApp({});
  productionApp = await startApp({ KIE_API_KEY: "test-key-not-used", DEV_SIGN_IN: "true" });
  token = (await issueDevToken({ email: "proxy@example.com" }, simulatorApp.devSecret!)).accessToken;
});

afterAll(async () => {
  installApp(undefined);
  await simulatorApp?.close();
  await productionApp?.close();
  await database?.dispose();
  await images?.close();
  await victim?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  installApp(simulatorApp);
  images.requests.length = 0;
});

function proxy(
  target: string | undefined,
  headers: Record<string, string> = { authorization: `Bearer ${token}` },
) {
  const query = target === undefined ? "" : `?url=${encodeURIComponent(target)}`;
  return GET(new Request(`http://localhost/api/image-proxy${query}`, { headers }));
}

describe("GET /api/image-proxy", () => {
  it("refuses an anonymous caller with 401 before fetching anything", async () => {
    const response = await proxy(`${images.origin}/images/a.png`, {});
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body).toMatchObject({ success: false, error: { code: "unauthorized" } });
    expect(body.error.requestId).toBe(response.headers.get("x-request-id"));
    expect(images.requests).toHaveLength(0);
  });

  it("streams an image from the simulator the app started, with defensive headers", async () => {
    const response = await proxy(`${images.origin}/images/a.png`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(response.headers.get("content-disposition")).toBe("inline");
    expect(response.headers.get("cache-control")).toMatch(/^private, max-age=\d+$/);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    expect(Buffer.from(await response.arrayBuffer()).equals(png)).toBe(true);
    // The caller's token is not forwarded.
    expect(images.requests[0]?.headers.authorization).toBeUndefined();
  });

  it("keeps a browser's cached copy tied to the credentials that fetched it (issue 24, item 10)", async () => {
    // Answered for a cookie or bearer token, cached a day: without Vary, the copy would still show
    // from a shared browser's cache after sign-out, to whoever comes next.
    const response = await proxy(`${images.origin}/images/a.png`);
    expect(response.status).toBe(200);
    const vary = (response.headers.get("vary") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(vary).toEqual(expect.arrayContaining(["cookie", "authorization"]));
    await response.body?.cancel();
  });

  it("answers 400 when the url parameter is missing", async () => {
    const response = await proxy(undefined);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_request" } });
  });

  it("answers 400 for a host that is not allowed, and for loopback other than the simulator", async () => {
    for (const target of [
      "https://evil.example/a.png",
      `${victim.origin}/`,
      `http://2130706433:${victim.port}/`,
    ]) {
      const response = await proxy(target);
      expect(response.status, target).toBe(400);
      const body = await response.json();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.message).not.toContain(String(victim.port));
    }
    expect(victim.connections()).toBe(0);
  });

  it("answers 415 for something that is not an image, whatever its Content-Type says", async () => {
    const response = await proxy(`${images.origin}/note.txt`);
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: "unsupported_media_type" } });
  });

  it("answers 502 when the image host fails", async () => {
    const response = await proxy(`${images.origin}/missing.png`);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: { code: "upstream_error" } });
  });

  it("does not trust the simulator origin when the app talks to real KIE", async () => {
    installApp(productionApp);
    const productionToken = (await issueDevToken({ email: "proxy@example.com" }, productionApp.devSecret!))
      .accessToken;
    const response = await proxy(`${images.origin}/images/a.png`, {
      authorization: `Bearer ${productionToken}`,
    });
    expect(response.status).toBe(400);
    expect(images.requests).toHaveLength(0);
  });
});
