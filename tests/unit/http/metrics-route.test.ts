/**
 * The metrics route and the route wrapper's request metrics, with a minimal app in place of the
 * process-wide one (installApp): no server, no database.
 */
import { afterEach, describe, expect, it } from "vitest";
import { route } from "@/app/_lib/route";
import { GET } from "@/app/api/metrics/route";
import type { AppConfig } from "@/config";
import { type App, installApp } from "@/lib/app";
import { createLogger } from "@/lib/observability/logger";
import { createMetrics, type Metrics } from "@/lib/observability/metrics";

function installMinimalApp(metricsToken?: string): Metrics {
  const metrics = createMetrics({ defaultMetrics: false });
  const app = {
    config: { metricsToken, auth: { mode: "dev" } } as AppConfig,
    logger: createLogger({ level: "silent" }),
    metrics,
  } as unknown as App;
  installApp(app);
  return metrics;
}

afterEach(() => {
  installApp(undefined);
});

describe("GET /api/metrics", () => {
  it("answers Prometheus text that counts the requests the wrapper saw", async () => {
    installMinimalApp();
    const ping = route("ping", async () => Response.json({ ok: true }, { status: 201 }));
    await ping(new Request("http://localhost/api/ping", { method: "POST" }));
    await ping(new Request("http://localhost/api/ping", { method: "POST" }));

    const response = await GET(new Request("http://localhost/api/metrics"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const text = await response.text();
    expect(text).toContain('nano_banana_http_requests_total{route="ping",method="POST",status="201"} 2');
    expect(text).toContain('nano_banana_http_request_duration_seconds_count{route="ping"} 2');
  });

  it("records the status of a handler that threw", async () => {
    const metrics = installMinimalApp();
    const broken = route("broken", async () => {
      throw new Error("boom");
    });
    expect((await broken(new Request("http://localhost/api/broken"))).status).toBe(500);
    expect(await metrics.registry.metrics()).toContain(
      'nano_banana_http_requests_total{route="broken",method="GET",status="500"} 1',
    );
  });

  it("refuses a scraper without the token with the JSON 401, and accepts the right one", async () => {
    installMinimalApp("metrics-token-1");
    const refused = await GET(
      new Request("http://localhost/api/metrics", { headers: { authorization: "Bearer nope" } }),
    );
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { success: boolean; error: { code: string; requestId: string } };
    expect(body).toMatchObject({ success: false, error: { code: "unauthorized" } });
    expect(body.error.requestId).toBe(refused.headers.get("x-request-id"));

    const accepted = await GET(
      new Request("http://localhost/api/metrics", { headers: { authorization: "Bearer metrics-token-1" } }),
    );
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toContain('route="metrics",method="GET",status="401"');
  });
});
