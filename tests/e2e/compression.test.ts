/**
 * Through the production server: small JSON answers go out as they are (gzip of a few hundred
 * bytes costs the server more CPU than it saves), larger ones are still compressed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

describe("compression of API answers", () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" });
  });
  afterAll(async () => {
    await app?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, { headers: { "accept-encoding": "gzip", ...headers } });

  it("sends small JSON answers uncompressed", async () => {
    const health = await get("/api/health");
    expect(health.status).toBe(200);
    expect((await health.text()).length).toBeLessThan(1024);
    expect(health.headers.get("content-encoding")).toBeNull();
    expect(health.headers.get("cache-control")).toContain("no-store");

    const refused = await get("/api/credits");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-encoding")).toBeNull();
    expect((await refused.json()).error.code).toBe("unauthorized");
  });

  it("still compresses a large answer", async () => {
    const metrics = await get("/api/metrics");
    expect(metrics.status).toBe(200);
    expect((await metrics.text()).length).toBeGreaterThan(2048);
    expect(metrics.headers.get("content-encoding")).toBe("gzip");
  });
});
