/**
 * kie-sim's faults: the vocabulary shared by the `X-Kie-Sim-Fault` request header and the global
 * rules (options.faults, KIE_SIM_FAULTS, PUT /__sim/faults), and how the two combine for one
 * request. The grammar that reads them is in faultSyntax.ts; the `[sim:…]` prompt directives are in
 * directives.ts.
 */

export class KieSimFaultSyntaxError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = "KieSimFaultSyntaxError";
  }
}

/** Endpoints as named in stats, in fault rules and in the README. */
export const KIE_SIM_ENDPOINTS = [
  "createTask",
  "recordInfo",
  "fileStreamUpload",
  "fileBase64Upload",
  "fileUrlUpload",
  "downloadUrl",
  "credit",
  "files",
] as const;
export type KieSimEndpoint = (typeof KIE_SIM_ENDPOINTS)[number];

/** A rule's target: one endpoint, `upload` (the three upload endpoints) or `*` (every endpoint). */
export type KieSimEndpointSelector = KieSimEndpoint | "upload" | "*";

const UPLOAD_ENDPOINTS: readonly KieSimEndpoint[] = ["fileStreamUpload", "fileBase64Upload", "fileUrlUpload"];

export function selectorMatches(selector: KieSimEndpointSelector, endpoint: KieSimEndpoint): boolean {
  if (selector === "*") return true;
  if (selector === "upload") return UPLOAD_ENDPOINTS.includes(endpoint);
  return selector === endpoint;
}

export type FaultOutcome =
  /** Answer with this HTTP status and the same code in the KIE envelope. */
  | { kind: "http"; status: number; retryAfterSeconds?: number }
  /** Answer HTTP 200 with this error code in the KIE envelope (KIE's usual way). */
  | { kind: "body-code"; code: number; retryAfterSeconds?: number }
  /** Never answer; the socket stays open until the client gives up or the sim closes. */
  | { kind: "hang" }
  /** Destroy the socket without an answer. */
  | { kind: "reset" }
  /** `json`: HTTP 200 with truncated JSON; `html`: HTTP 502 with a proxy's HTML page. */
  | { kind: "malformed"; variant: "json" | "html" };

export interface FaultSpec {
  outcome?: FaultOutcome;
  /** Run the endpoint first (a task is created, a file stored), then apply the outcome. */
  after: boolean;
  /** Wait this long before handling the request. */
  latencyMs: number;
  /** Read the request body and write the answer at this many bytes per second. */
  bytesPerSecond?: number;
  /**
   * createTask only (`fail-task[=<msg>]`): the task is created as asked and then ends as `fail`,
   * as `[sim:fail=<msg>]` in its prompt would — one task of several with the same prompt.
   */
  failTask?: { message?: string };
}

export interface FaultRule {
  endpoint: KieSimEndpointSelector;
  spec: FaultSpec;
  /** The rule's text as given, for GET /__sim/faults. */
  text: string;
  /** How many more requests this rule applies to; undefined = unlimited. */
  remaining?: number;
  /** Chance (0–1) that the rule applies to a matching request. */
  probability: number;
}

/** Object form of a rule, for options.faults and JSON bodies of PUT /__sim/faults. */
export interface KieSimFaultRuleInput {
  endpoint: KieSimEndpointSelector;
  /** A fault spec in the header grammar, e.g. "http=429;retry-after=2". */
  fault: string;
  times?: number;
  probability?: number;
}

/** Adds a spec's latency (summed) and rate (the slowest wins) to `into`, and its outcome if it has one. */
function merge(into: FaultSpec, from: FaultSpec): void {
  into.latencyMs += from.latencyMs;
  if (from.bytesPerSecond !== undefined) {
    into.bytesPerSecond = Math.min(into.bytesPerSecond ?? Number.POSITIVE_INFINITY, from.bytesPerSecond);
  }
  if (from.outcome) {
    into.outcome = from.outcome;
    into.after = from.after;
  }
  if (from.failTask) into.failTask = from.failTask;
}

/**
 * Combines the header's spec (first) with the global rules that fire for this request. Positional
 * parameters kept: this is the grammar's tested entry point (tests/unit/sim/faults.test.ts).
 */
export function resolveFaults(
  endpoint: KieSimEndpoint,
  header: FaultSpec | undefined,
  rules: FaultRule[],
  random: () => number,
): { spec: FaultSpec; fired: FaultRule[] } {
  const spec: FaultSpec = { after: false, latencyMs: 0 };
  if (header) merge(spec, header);
  const fired: FaultRule[] = [];
  for (const rule of rules) {
    if (!selectorMatches(rule.endpoint, endpoint)) continue;
    if (rule.remaining !== undefined && rule.remaining <= 0) continue;
    // An outcome rule does not fire (and is not used up) when an outcome is already chosen.
    if (rule.spec.outcome && spec.outcome) continue;
    if (rule.probability < 1 && !(random() < rule.probability)) continue;
    if (rule.remaining !== undefined) rule.remaining -= 1;
    fired.push(rule);
    merge(spec, rule.spec);
  }
  return { spec, fired };
}
