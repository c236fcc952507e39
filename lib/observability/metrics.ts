/**
 * Prometheus metrics (DESIGN.md §7): requests by route and status, generations by outcome, KIE
 * calls, retries, latency and 429s, waits for KIE's account budget, credit movements. Each createMetrics() owns its registry (never
 * prom-client's global one), so tests and a reloaded dev server never collide on metric names.
 * Served by GET /api/metrics (metricsEndpoint.ts).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { GENERATION_TYPES } from "@/lib/catalog/generationTypes";
import type { KieClientEvent } from "@/lib/kie";

export const METRICS_PREFIX = "nano_banana_";

export const GENERATION_OUTCOMES = ["succeeded", "failed", "timeout"] as const;
export type GenerationOutcome = (typeof GENERATION_OUTCOMES)[number];

/** KIE's account budget (issue 23): its two kinds of token, and what a call without one did. */
export const KIE_BUDGETS = ["create", "read"] as const;
export const KIE_BUDGET_WAIT_OUTCOMES = ["waited", "skipped"] as const;

export const CREDIT_MOVEMENTS = ["reserved", "captured", "released", "granted"] as const;
export type CreditMovement = (typeof CREDIT_MOVEMENTS)[number];

/** Seconds; a sync generate may wait up to KIE_POLL_BUDGET_MS (90 s by default). */
const HTTP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds; one KIE call is bounded by KIE_REQUEST_TIMEOUT_MS (30 s by default). */
const KIE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
/** Seconds a job waited in line for a KIE create token (KIE_TIMEOUT_MS is 180 s by default). */
const LINE_WAIT_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120, 180, 300];

export interface HttpRequestObservation {
  route: string;
  method: string;
  status: number;
  durationMs: number;
}

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<"route" | "method" | "status">;
  httpDuration: Histogram<"route">;
  /** Jobs by how they ended; inc({ outcome, type }) once per settle(). */
  generations: Counter<"outcome" | "type">;
  /** Status: the HTTP status, KIE's envelope code when an HTTP 2xx carried an error code, or timeout/network_error/aborted. */
  kieCalls: Counter<"endpoint" | "status">;
  kieRetries: Counter<"endpoint">;
  kieDuration: Histogram<"endpoint">;
  /** KIE's 429s (HTTP status or body code), by endpoint: the budget should keep this at 0. */
  kieRateLimited: Counter<"endpoint">;
  /** Calls that waited for a budget token (`waited`) or gave up without one (`skipped`). */
  kieBudgetWaits: Counter<"budget" | "outcome">;
  /** Credits moved, by kind: inc({ kind }, amount). */
  credits: Counter<"kind">;
  /** Seconds each job waited in line before it was sent to KIE. */
  lineWait: Histogram;
  /** Jobs in line at scrape time, read from `lineLength.read` (the database: every instance's line). */
  lineLength: { read?: () => Promise<number> };
  /** For KieClientOptions.onEvent. */
  observeKieEvent(event: KieClientEvent): void;
  observeHttpRequest(observation: HttpRequestObservation): void;
}

export interface CreateMetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC) on the same registry. Default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  const instruments = createInstruments([registry]);
  const { generations, credits, kieCalls, kieRetries, kieDuration, kieRateLimited, kieBudgetWaits } =
    instruments;
  const { httpRequests, httpDuration } = instruments;
  const lineLength: Metrics["lineLength"] = {};
  new Gauge({
    name: `${METRICS_PREFIX}line_length`,
    help: "Jobs waiting in line for a KIE create token (all instances).",
    registers: [registry],
    async collect() {
      if (lineLength.read) this.set(await lineLength.read());
    },
  });

  // Known series start at 0, so a rate() over them works before the first event.
  for (const outcome of GENERATION_OUTCOMES) {
    for (const type of GENERATION_TYPES) generations.inc({ outcome, type }, 0);
  }
  for (const kind of CREDIT_MOVEMENTS) credits.inc({ kind }, 0);
  for (const budget of KIE_BUDGETS) {
    for (const outcome of KIE_BUDGET_WAIT_OUTCOMES) kieBudgetWaits.inc({ budget, outcome }, 0);
  }

  return {
    registry,
    ...instruments,
    lineLength,
    observeKieEvent(event) {
      if (event.type === "retry") {
        kieRetries.inc({ endpoint: event.endpoint });
        return;
      }
      const status = kieStatusLabel(event.status, event.code);
      kieCalls.inc({ endpoint: event.endpoint, status });
      if (status === "429") kieRateLimited.inc({ endpoint: event.endpoint });
      kieDuration.observe({ endpoint: event.endpoint }, event.durationMs / 1000);
    },
    observeHttpRequest({ route, method, status, durationMs }) {
      httpRequests.inc({ route, method, status: String(status) });
      httpDuration.observe({ route }, durationMs / 1000);
    },
  };
}

/** The app's own series, on the given registries. */
function createInstruments(registers: Registry[]) {
  const httpRequests = new Counter({
    name: `${METRICS_PREFIX}http_requests_total`,
    help: "HTTP requests answered, by route, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: `${METRICS_PREFIX}http_request_duration_seconds`,
    help: "Time to answer an HTTP request, by route.",
    labelNames: ["route"] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const generations = new Counter({
    name: `${METRICS_PREFIX}generations_total`,
    help: "Generations settled, by outcome (succeeded, failed, timeout) and type.",
    labelNames: ["outcome", "type"] as const,
    registers,
  });
  const kieCalls = new Counter({
    name: `${METRICS_PREFIX}kie_calls_total`,
    help: "HTTP calls to KIE, by endpoint and status (HTTP status or KIE's error code).",
    labelNames: ["endpoint", "status"] as const,
    registers,
  });
  const kieRetries = new Counter({
    name: `${METRICS_PREFIX}kie_retries_total`,
    help: "Retries of KIE calls, by endpoint.",
    labelNames: ["endpoint"] as const,
    registers,
  });
  const kieDuration = new Histogram({
    name: `${METRICS_PREFIX}kie_call_duration_seconds`,
    help: "Duration of one HTTP call to KIE, by endpoint.",
    labelNames: ["endpoint"] as const,
    buckets: KIE_BUCKETS,
    registers,
  });
  const kieRateLimited = new Counter({
    name: `${METRICS_PREFIX}kie_rate_limited_total`,
    help: "KIE's 429 answers (rejected, not queued), by endpoint.",
    labelNames: ["endpoint"] as const,
    registers,
  });
  const kieBudgetWaits = new Counter({
    name: `${METRICS_PREFIX}kie_budget_waits_total`,
    help: "KIE calls that waited for a token of the account budget, or were skipped without one, by budget (create, read) and outcome.",
    labelNames: ["budget", "outcome"] as const,
    registers,
  });
  const credits = new Counter({
    name: `${METRICS_PREFIX}credits_total`,
    help: "Credits moved, by kind (reserved, captured, released, granted).",
    labelNames: ["kind"] as const,
    registers,
  });

  const lineWait = new Histogram({
    name: `${METRICS_PREFIX}line_wait_seconds`,
    help: "Time a job waited in line for a KIE create token before it was sent.",
    buckets: LINE_WAIT_BUCKETS,
    registers,
  });

  return {
    httpRequests,
    httpDuration,
    generations,
    kieCalls,
    kieRetries,
    kieDuration,
    kieRateLimited,
    kieBudgetWaits,
    credits,
    lineWait,
  };
}

/** KIE often answers HTTP 200 with an error code in the body (kie-api.md): that code is the status. */
function kieStatusLabel(status: number | string, code: number | undefined): string {
  const httpOk = typeof status === "number" && status >= 200 && status < 300;
  return httpOk && code !== undefined && code !== 200 ? String(code) : String(status);
}
