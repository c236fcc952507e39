/**
 * GET /api/metrics without the framework: the bearer check and the Prometheus text. When
 * METRICS_TOKEN is set, the scraper must send `Authorization: Bearer <METRICS_TOKEN>`; when it is
 * not set, the endpoint is open (keep it off the public internet, e.g. at the proxy).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Registry } from "prom-client";

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

/**
 * Constant time in the token's content: both sides are hashed to equal-length digests first, so
 * neither a differing byte's position nor the length of the guess shows in the timing.
 */
export function bearerMatches(authorization: string | null, token: string): boolean {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "")?.[1];
  if (presented === undefined) return false;
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(token));
}
