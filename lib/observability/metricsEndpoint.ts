/**
 * GET /api/metrics without the framework: who may read it, and the Prometheus text. When
 * METRICS_TOKEN is set, the scraper must send `Authorization: Bearer <METRICS_TOKEN>`. Without a
 * token the counters (traffic, credits, KIE error codes) are open only in the embedded dev mode;
 * with Supabase sign-in on — a real deployment — the endpoint is closed (404) until a token is set.
 */
import type { Registry } from "prom-client";
import { bearerMatches } from "@/lib/security/secrets";

export interface MetricsRequest {
  /** The request's Authorization header, or null. */
  authorization: string | null;
  /** METRICS_TOKEN. */
  token: string | undefined;
  /** The sign-in mode: without a token, only "dev" leaves the endpoint open. */
  authMode: "dev" | "supabase";
  registry: Registry;
}

export type MetricsAnswer =
  | { authorized: false; reason: "closed" | "bad_token" }
  | { authorized: true; body: string; contentType: string };

/** Why the endpoint is closed, or undefined when it answers (logged once at start-up). */
export function metricsClosedReason(
  token: string | undefined,
  authMode: "dev" | "supabase",
): string | undefined {
  if (token !== undefined || authMode === "dev") return undefined;
  return "GET /api/metrics answers 404: METRICS_TOKEN is not set and Supabase sign-in is on (set METRICS_TOKEN to scrape it)";
}

export async function renderMetrics(request: MetricsRequest): Promise<MetricsAnswer> {
  if (metricsClosedReason(request.token, request.authMode)) return { authorized: false, reason: "closed" };
  if (request.token !== undefined && !bearerMatches(request.authorization, request.token)) {
    return { authorized: false, reason: "bad_token" };
  }
  return {
    authorized: true,
    body: await request.registry.metrics(),
    contentType: request.registry.contentType,
  };
}
