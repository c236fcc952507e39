/**
 * GET /api/metrics without the framework: the bearer check and the Prometheus text. When
 * METRICS_TOKEN is set, the scraper must send `Authorization: Bearer <METRICS_TOKEN>`; when it is
 * not set, the endpoint is open (keep it off the public internet, e.g. at the proxy).
 */
import type { Registry } from "prom-client";
import { bearerMatches } from "@/lib/security/secrets";

export interface MetricsRequest {
  /** The request's Authorization header, or null. */
  authorization: string | null;
  /** METRICS_TOKEN; undefined leaves the endpoint open. */
  token: string | undefined;
  registry: Registry;
}

export type MetricsAnswer = { authorized: false } | { authorized: true; body: string; contentType: string };

export async function renderMetrics(request: MetricsRequest): Promise<MetricsAnswer> {
  if (request.token !== undefined && !bearerMatches(request.authorization, request.token)) {
    return { authorized: false };
  }
  return {
    authorized: true,
    body: await request.registry.metrics(),
    contentType: request.registry.contentType,
  };
}
