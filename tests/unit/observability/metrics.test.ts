import { describe, expect, it } from "vitest";
import { createMetrics } from "@/lib/observability/metrics";
import { renderMetrics } from "@/lib/observability/metricsEndpoint";
import { bearerMatches } from "@/lib/security/secrets";

/** The value of one sample line, e.g. `name{a="b"} 3`, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("createMetrics", () => {
  it("counts KIE calls by endpoint and status, retries, and call durations", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observeKieEvent({
      type: "call",
      endpoint: "createTask",
      status: 200,
      code: 200,
      durationMs: 120,
      attempt: 0,
    });
    metrics.observeKieEvent({
      type: "call",
      endpoint: "createTask",
      status: 200,
      code: 200,
      durationMs: 80,
      attempt: 0,
    });
    metrics.observeKieEvent({
      type: "call",
      endpoint: "recordInfo",
      status: "timeout",
      durationMs: 30_000,
      attempt: 1,
    });
    metrics.observeKieEvent({
      type: "retry",
      endpoint: "recordInfo",
      attempt: 1,
      delayMs: 500,
      reason: "timeout",
    });
    const text = await metrics.registry.metrics();

    expect(sample(text, 'nano_banana_kie_calls_total{endpoint="createTask",status="200"}')).toBe(2);
    expect(sample(text, 'nano_banana_kie_calls_total{endpoint="recordInfo",status="timeout"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_retries_total{endpoint="recordInfo"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_call_duration_seconds_count{endpoint="createTask"}')).toBe(2);
    expect(sample(text, 'nano_banana_kie_call_duration_seconds_sum{endpoint="createTask"}')).toBeCloseTo(0.2);
    expect(sample(text, 'nano_banana_kie_call_duration_seconds_bucket{le="0.1",endpoint="createTask"}')).toBe(
      1,
    );
  });

  it("counts KIE's 429s by endpoint, as an HTTP status or a body code, and waits for KIE's budget", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const call = { type: "call", durationMs: 5, attempt: 0 } as const;
    metrics.observeKieEvent({ ...call, endpoint: "createTask", status: 429, code: 429 });
    metrics.observeKieEvent({ ...call, endpoint: "recordInfo", status: 200, code: 429 });
    metrics.observeKieEvent({ ...call, endpoint: "recordInfo", status: 200, code: 200 });
    metrics.kieBudgetWaits.inc({ budget: "read", outcome: "skipped" });
    const text = await metrics.registry.metrics();

    expect(sample(text, 'nano_banana_kie_rate_limited_total{endpoint="createTask"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_rate_limited_total{endpoint="recordInfo"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_budget_waits_total{budget="read",outcome="skipped"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_budget_waits_total{budget="read",outcome="waited"}')).toBe(0);
  });

  it("labels an HTTP 200 that carries a KIE error code with that code", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observeKieEvent({
      type: "call",
      endpoint: "createTask",
      status: 200,
      code: 402,
      durationMs: 50,
      attempt: 0,
    });
    metrics.observeKieEvent({
      type: "call",
      endpoint: "createTask",
      status: 500,
      code: 500,
      durationMs: 50,
      attempt: 0,
    });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'nano_banana_kie_calls_total{endpoint="createTask",status="402"}')).toBe(1);
    expect(sample(text, 'nano_banana_kie_calls_total{endpoint="createTask",status="500"}')).toBe(1);
    expect(text).not.toContain('status="200"');
  });

  it("counts HTTP requests by route, method and status, with their duration", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observeHttpRequest({ route: "generate", method: "POST", status: 202, durationMs: 40 });
    metrics.observeHttpRequest({ route: "generate", method: "POST", status: 429, durationMs: 2 });
    metrics.observeHttpRequest({ route: "generate", method: "POST", status: 202, durationMs: 60 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'nano_banana_http_requests_total{route="generate",method="POST",status="202"}')).toBe(
      2,
    );
    expect(sample(text, 'nano_banana_http_requests_total{route="generate",method="POST",status="429"}')).toBe(
      1,
    );
    expect(sample(text, 'nano_banana_http_request_duration_seconds_count{route="generate"}')).toBe(3);
  });

  it("shows generation outcomes and credit movements from zero, then as counted", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const before = await metrics.registry.metrics();
    expect(sample(before, 'nano_banana_generations_total{outcome="timeout",type="image_edit"}')).toBe(0);
    expect(sample(before, 'nano_banana_credits_total{kind="released"}')).toBe(0);

    metrics.generations.inc({ outcome: "succeeded", type: "text_to_image" });
    metrics.credits.inc({ kind: "reserved" }, 3);
    metrics.credits.inc({ kind: "captured" }, 3);
    const after = await metrics.registry.metrics();
    expect(sample(after, 'nano_banana_generations_total{outcome="succeeded",type="text_to_image"}')).toBe(1);
    expect(sample(after, 'nano_banana_credits_total{kind="reserved"}')).toBe(3);
    expect(sample(after, 'nano_banana_credits_total{kind="captured"}')).toBe(3);
  });

  it("keeps each instance's registry to itself and includes process metrics by default", async () => {
    const first = createMetrics();
    const second = createMetrics();
    first.observeHttpRequest({ route: "health", method: "GET", status: 200, durationMs: 1 });
    const secondText = await second.registry.metrics();
    expect(secondText).not.toContain('route="health"');
    expect(secondText).toContain("nano_banana_process_cpu_seconds_total");
    expect(await first.registry.metrics()).toContain('route="health"');
  });
});

describe("renderMetrics", () => {
  const registryWithOneRequest = () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.observeHttpRequest({ route: "credits", method: "GET", status: 200, durationMs: 5 });
    return metrics.registry;
  };

  it("serves Prometheus text when no token is configured", async () => {
    const registry = registryWithOneRequest();
    const answer = await renderMetrics({ authorization: null, token: undefined, authMode: "dev", registry });
    expect(answer).toMatchObject({ authorized: true, contentType: registry.contentType });
    expect(answer.authorized && answer.body).toContain(
      'nano_banana_http_requests_total{route="credits",method="GET",status="200"} 1',
    );
    expect(registry.contentType).toMatch(/^text\/plain/);
  });

  it("requires the bearer token when one is configured", async () => {
    const registry = registryWithOneRequest();
    const token = "s3cret-metrics-token";
    for (const authorization of [
      null,
      "",
      "Bearer",
      "Bearer wrong",
      `Bearer ${token}x`,
      `Basic ${token}`,
      token,
      `Bearer ${token.slice(0, -1)}`,
    ]) {
      expect(
        await renderMetrics({ authorization, token, authMode: "supabase", registry }),
        String(authorization),
      ).toEqual({ authorized: false, reason: "bad_token" });
    }
    const accepted = await renderMetrics({
      authorization: `Bearer ${token}`,
      token,
      authMode: "supabase",
      registry,
    });
    expect(accepted.authorized && accepted.body).toContain("nano_banana_http_requests_total");
  });

  it("is closed without a token when Supabase sign-in is on, whatever the request sends", async () => {
    const registry = registryWithOneRequest();
    for (const authorization of [null, "Bearer ", "Bearer anything"]) {
      expect(
        await renderMetrics({ authorization, token: undefined, authMode: "supabase", registry }),
      ).toEqual({ authorized: false, reason: "closed" });
    }
  });

  it("accepts the scheme in any case and surrounding spaces", () => {
    expect(bearerMatches("bearer abc", "abc")).toBe(true);
    expect(bearerMatches("BEARER   abc  ", "abc")).toBe(true);
    expect(bearerMatches("Bearer abc def", "abc")).toBe(false);
  });
});
