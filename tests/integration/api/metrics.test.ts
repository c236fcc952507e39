/**
 * GET /api/metrics on the real app (DESIGN.md §3, §7): Prometheus text whose generation, credit,
 * KIE and HTTP counters move when a user generates images; with METRICS_TOKEN set, only the right
 * bearer token may read it.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

/** Sums every sample of `name` whose labels include `labels` (Prometheus text format). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total += Number(match[3]);
  }
  return total;
}

describeEachDatabase("api: GET /api/metrics", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function scrape(harness: Harness, headers: Record<string, string> = {}): Promise<string> {
    const response = await harness.fetch("/api/metrics", { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  }

  async function generate(harness: Harness, token: string, prompt: string): Promise<Response> {
    return harness.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt }),
    });
  }

  it("exposes generation, credit, KIE and HTTP counters that move with each generation", async () => {
    const harness = await startHarness({ database: getDb() });
    h = harness;
    const { token } = await harness.signIn();
    const before = await scrape(harness);
    expect(before).toContain("# TYPE nano_banana_generations_total counter");
    expect(before).toContain("# TYPE nano_banana_credits_total counter");
    expect(before).toContain("# TYPE nano_banana_kie_calls_total counter");

    expect((await generate(harness, token, "a counted picture")).status).toBe(200);
    const failed = await generate(harness, token, "[sim:fail=Not allowed] a refused picture");
    expect(failed.status).toBe(422);
    const after = await scrape(harness);

    const delta = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta("nano_banana_generations_total", { outcome: "succeeded", type: "text_to_image" })).toBe(1);
    expect(delta("nano_banana_generations_total", { outcome: "failed", type: "text_to_image" })).toBe(1);
    expect(delta("nano_banana_generations_total", { outcome: "timeout" })).toBe(0);
    expect(delta("nano_banana_credits_total", { kind: "reserved" })).toBe(2);
    expect(delta("nano_banana_credits_total", { kind: "captured" })).toBe(1);
    expect(delta("nano_banana_credits_total", { kind: "released" })).toBe(1);
    expect(delta("nano_banana_kie_calls_total", { endpoint: "createTask", status: "200" })).toBe(2);
    const statusReads = delta("nano_banana_kie_calls_total", { endpoint: "recordInfo" });
    expect(statusReads).toBe(harness.sim.stats().calls.recordInfo);
    expect(statusReads).toBeGreaterThanOrEqual(2);
    expect(delta("nano_banana_kie_call_duration_seconds_count", { endpoint: "createTask" })).toBe(2);
    expect(
      delta("nano_banana_http_requests_total", { route: "generate", method: "POST", status: "200" }),
    ).toBe(1);
    expect(
      delta("nano_banana_http_requests_total", { route: "generate", method: "POST", status: "422" }),
    ).toBe(1);
  });

  it("with METRICS_TOKEN: 401 without or with a wrong bearer token, 200 with the right one", async () => {
    const harness = await startHarness({ database: getDb(), env: { METRICS_TOKEN: "scrape-me-please" } });
    h = harness;
    const { token: userToken } = await harness.signIn();
    for (const headers of [
      {},
      { authorization: "Bearer wrong-token" },
      { authorization: "Bearer scrape-me-pleasE" },
      { authorization: "scrape-me-please" },
      { authorization: `Bearer ${userToken}` },
    ] as Record<string, string>[]) {
      const response = await harness.fetch("/api/metrics", { headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      const body = await response.text();
      expect(body).not.toContain("nano_banana_");
      expect(JSON.parse(body).error.code).toBe("unauthorized");
    }
    const text = await scrape(harness, { authorization: "Bearer scrape-me-please" });
    expect(sample(text, "nano_banana_http_requests_total", { route: "metrics", status: "401" })).toBe(5);
  });

  it("without METRICS_TOKEN and with Supabase sign-in on: 404 to everyone, and the start-up log says why", async () => {
    const harness = await startHarness({
      database: getDb(),
      env: { SUPABASE_JWT_SECRET: "super-secret-jwt-token-with-at-least-32-characters" },
    });
    h = harness;
    for (const headers of [{}, { authorization: "Bearer anything" }] as Record<string, string>[]) {
      const response = await harness.fetch("/api/metrics", { headers });
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain("nano_banana_");
    }
    expect(harness.logs()).toMatch(/api\/metrics answers 404: METRICS_TOKEN is not set/);
  });
});
