/**
 * kie-sim's fault grammar: one small language used by the `X-Kie-Sim-Fault` request header, the
 * global rules (options.faults, KIE_SIM_FAULTS, PUT /__sim/faults) and, separately, the
 * `[sim:…]` directives in a prompt. Everything is parsed strictly: a typo must fail loudly,
 * because a fault that silently does nothing makes a test pass for the wrong reason.
 *
 * Over 300 lines: one grammar with its parser and its matcher; splitting it is part of the
 * redesign issue's sim/ work ("One home per concept"), not yet done.
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

const MAX_LATENCY_MS = 600_000;

function parseInteger(source: string, name: string, value: string | undefined, min: number, max: number) {
  if (value === undefined || !/^\d+$/.test(value)) {
    throw new KieSimFaultSyntaxError(source, `'${name}' needs an integer value (${name}=<${min}-${max}>)`);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new KieSimFaultSyntaxError(source, `'${name}=${value}' is out of range ${min}-${max}`);
  }
  return n;
}

function noValue(source: string, name: string, value: string | undefined) {
  if (value !== undefined) throw new KieSimFaultSyntaxError(source, `'${name}' takes no value`);
}

interface ParsedItems {
  spec: FaultSpec;
  times?: number;
  probability?: number;
}

/**
 * Parses `item(;item)*` where item is `name` or `name=value`. `allowSelectors` admits `times=` and
 * `p=`, which only make sense for global rules.
 */
function parseItems(text: string, source: string, allowSelectors: boolean): ParsedItems {
  const spec: FaultSpec = { after: false, latencyMs: 0 };
  let retryAfterSeconds: number | undefined;
  let times: number | undefined;
  let probability: number | undefined;
  const seen = new Set<string>();
  const items = text.split(";").map((s) => s.trim());
  if (items.every((i) => i === "")) throw new KieSimFaultSyntaxError(source, "empty fault spec");

  const setOutcome = (outcome: FaultOutcome, name: string) => {
    if (spec.outcome) {
      throw new KieSimFaultSyntaxError(
        source,
        `'${name}' conflicts with '${spec.outcome.kind}': one outcome per spec`,
      );
    }
    spec.outcome = outcome;
  };

  for (const item of items) {
    if (item === "") throw new KieSimFaultSyntaxError(source, "empty item (stray ';')");
    const eq = item.indexOf("=");
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : item.slice(eq + 1).trim();
    if (seen.has(name)) throw new KieSimFaultSyntaxError(source, `'${name}' given twice`);
    seen.add(name);
    switch (name) {
      case "http":
      case "code":
        setOutcome({ kind: "http", status: parseInteger(source, name, value, 400, 599) }, name);
        break;
      case "body-code":
        setOutcome({ kind: "body-code", code: parseInteger(source, name, value, 201, 999) }, name);
        break;
      case "hang":
        noValue(source, name, value);
        setOutcome({ kind: "hang" }, name);
        break;
      case "reset":
        noValue(source, name, value);
        setOutcome({ kind: "reset" }, name);
        break;
      case "malformed": {
        const variant = value ?? "json";
        if (variant !== "json" && variant !== "html") {
          throw new KieSimFaultSyntaxError(
            source,
            `'malformed=${value}': use malformed, malformed=json or malformed=html`,
          );
        }
        setOutcome({ kind: "malformed", variant }, name);
        break;
      }
      case "retry-after":
        retryAfterSeconds = parseInteger(source, name, value, 0, 86_400);
        break;
      case "latency":
        spec.latencyMs = parseInteger(source, name, value, 0, MAX_LATENCY_MS);
        break;
      case "slow":
        spec.bytesPerSecond = parseInteger(source, name, value, 1, 1_000_000_000);
        break;
      case "after":
        noValue(source, name, value);
        spec.after = true;
        break;
      case "times":
        if (!allowSelectors)
          throw new KieSimFaultSyntaxError(source, "'times' only applies to global fault rules");
        times = parseInteger(source, name, value, 1, 1_000_000_000);
        break;
      case "p": {
        if (!allowSelectors)
          throw new KieSimFaultSyntaxError(source, "'p' only applies to global fault rules");
        const p =
          value === undefined || !/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(value) ? Number.NaN : Number(value);
        if (Number.isNaN(p))
          throw new KieSimFaultSyntaxError(source, `'p' needs a probability between 0 and 1`);
        probability = p;
        break;
      }
      default:
        throw new KieSimFaultSyntaxError(
          source,
          `unknown fault '${name}' (known: http, code, body-code, retry-after, hang, reset, malformed, latency, slow, after${allowSelectors ? ", times, p" : ""})`,
        );
    }
  }

  if (retryAfterSeconds !== undefined) {
    const o = spec.outcome;
    if (!o || (o.kind !== "http" && o.kind !== "body-code")) {
      throw new KieSimFaultSyntaxError(source, "'retry-after' needs http=<status> or body-code=<code>");
    }
    o.retryAfterSeconds = retryAfterSeconds;
  }
  if (spec.after && !spec.outcome) {
    throw new KieSimFaultSyntaxError(
      source,
      "'after' needs an outcome (http, body-code, hang, reset or malformed)",
    );
  }
  return { spec, times, probability };
}

/** Parses the value of an `X-Kie-Sim-Fault` header. */
export function parseFaultHeader(value: string): FaultSpec {
  return parseItems(value, "X-Kie-Sim-Fault", false).spec;
}

function parseSelector(text: string, source: string): KieSimEndpointSelector {
  if (text === "*" || text === "upload") return text;
  const found = KIE_SIM_ENDPOINTS.find((e) => e.toLowerCase() === text.toLowerCase());
  if (!found) {
    throw new KieSimFaultSyntaxError(
      source,
      `unknown endpoint '${text}' (known: ${KIE_SIM_ENDPOINTS.join(", ")}, upload, *)`,
    );
  }
  return found;
}

function toRule(
  endpoint: KieSimEndpointSelector,
  fault: string,
  source: string,
  times?: number,
  probability?: number,
): FaultRule {
  const parsed = parseItems(fault, source, true);
  if (parsed.times !== undefined && times !== undefined) {
    throw new KieSimFaultSyntaxError(source, "'times' given twice");
  }
  if (parsed.probability !== undefined && probability !== undefined) {
    throw new KieSimFaultSyntaxError(source, "'p' given twice");
  }
  const p = probability ?? parsed.probability ?? 1;
  if (!(p >= 0 && p <= 1)) throw new KieSimFaultSyntaxError(source, "probability must be between 0 and 1");
  const n = times ?? parsed.times;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    throw new KieSimFaultSyntaxError(source, "times must be a positive integer");
  }
  const extra = [
    times !== undefined ? `times=${times}` : "",
    probability !== undefined ? `p=${probability}` : "",
  ].filter(Boolean);
  return {
    endpoint,
    spec: parsed.spec,
    text: `${endpoint}:${[fault.trim(), ...extra].join(";")}`,
    remaining: n,
    probability: p,
  };
}

/**
 * Parses global rules: `endpoint:spec` separated by commas or newlines, e.g.
 * `createTask:http=429;retry-after=2;times=2, *:latency=100`.
 */
export function parseFaultRules(text: string, source = "faults"): FaultRule[] {
  const rules: FaultRule[] = [];
  const parts = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [index, part] of parts.entries()) {
    const where = `${source} rule ${index + 1} '${part}'`;
    const colon = part.indexOf(":");
    if (colon === -1) throw new KieSimFaultSyntaxError(where, "expected <endpoint>:<fault>");
    const endpoint = parseSelector(part.slice(0, colon).trim(), where);
    rules.push(toRule(endpoint, part.slice(colon + 1), where));
  }
  return rules;
}

/** Accepts the string grammar, or an array of strings and/or rule objects. */
export function normalizeFaultRules(
  input: string | readonly (string | KieSimFaultRuleInput)[],
  source = "faults",
): FaultRule[] {
  if (typeof input === "string") return parseFaultRules(input, source);
  if (!Array.isArray(input))
    throw new KieSimFaultSyntaxError(source, "expected a string or an array of rules");
  return input.flatMap((item, index) => {
    const where = `${source}[${index}]`;
    if (typeof item === "string") return parseFaultRules(item, where);
    if (typeof item !== "object" || item === null) {
      throw new KieSimFaultSyntaxError(
        where,
        "expected a rule string or {endpoint, fault, times?, probability?}",
      );
    }
    const known = new Set(["endpoint", "fault", "times", "probability"]);
    const unknown = Object.keys(item).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new KieSimFaultSyntaxError(where, `unknown field(s) ${unknown.join(", ")}`);
    if (typeof item.endpoint !== "string")
      throw new KieSimFaultSyntaxError(where, "'endpoint' must be a string");
    if (typeof item.fault !== "string") throw new KieSimFaultSyntaxError(where, "'fault' must be a string");
    if (item.times !== undefined && typeof item.times !== "number") {
      throw new KieSimFaultSyntaxError(where, "'times' must be a number");
    }
    if (item.probability !== undefined && typeof item.probability !== "number") {
      throw new KieSimFaultSyntaxError(where, "'probability' must be a number");
    }
    return [toRule(parseSelector(item.endpoint, where), item.fault, where, item.times, item.probability)];
  });
}

/** Combines the header's spec (first) with the global rules that fire for this request. */
export function resolveFaults(
  endpoint: KieSimEndpoint,
  header: FaultSpec | undefined,
  rules: FaultRule[],
  random: () => number,
): { spec: FaultSpec; fired: FaultRule[] } {
  const spec: FaultSpec = { after: false, latencyMs: 0 };
  const merge = (s: FaultSpec) => {
    spec.latencyMs += s.latencyMs;
    if (s.bytesPerSecond !== undefined) {
      spec.bytesPerSecond = Math.min(spec.bytesPerSecond ?? Number.POSITIVE_INFINITY, s.bytesPerSecond);
    }
  };
  if (header) {
    merge(header);
    if (header.outcome) {
      spec.outcome = header.outcome;
      spec.after = header.after;
    }
  }
  const fired: FaultRule[] = [];
  for (const rule of rules) {
    if (!selectorMatches(rule.endpoint, endpoint)) continue;
    if (rule.remaining !== undefined && rule.remaining <= 0) continue;
    // An outcome rule does not fire (and is not used up) when an outcome is already chosen.
    if (rule.spec.outcome && spec.outcome) continue;
    if (rule.probability < 1 && !(random() < rule.probability)) continue;
    if (rule.remaining !== undefined) rule.remaining -= 1;
    fired.push(rule);
    merge(rule.spec);
    if (rule.spec.outcome) {
      spec.outcome = rule.spec.outcome;
      spec.after = rule.spec.after;
    }
  }
  return { spec, fired };
}

// ---------------------------------------------------------------------------------------------
// Prompt directives: [sim:fail], [sim:fail=<msg>], [sim:never], [sim:delay=<ms>],
// [sim:callback=none|duplicate|reorder|early|late=<ms>]

export type CallbackMode =
  | { kind: "normal" }
  | { kind: "none" }
  | { kind: "duplicate" }
  | { kind: "reorder" }
  | { kind: "early" }
  | { kind: "late"; ms: number };

export interface PromptDirectives {
  fail?: { message?: string };
  never: boolean;
  /** Total time from creation to the final state, overriding the step timing. */
  delayMs?: number;
  callback: CallbackMode;
  /** A result that is not what it should be: not an image at all, or padded to `bytes`. */
  result?: { kind: "not-image" } | { kind: "oversize"; bytes: number };
  /** The prompt with the directives removed (what the image is drawn from). */
  cleanPrompt: string;
}

const DIRECTIVE_OPEN = "[sim:";

export function parsePromptDirectives(prompt: string): PromptDirectives {
  const result: PromptDirectives = { never: false, callback: { kind: "normal" }, cleanPrompt: "" };
  const seen = new Set<string>();
  let clean = "";
  let cursor = 0;
  for (;;) {
    const start = prompt.indexOf(DIRECTIVE_OPEN, cursor);
    if (start === -1) break;
    const end = prompt.indexOf("]", start);
    const source = "input.prompt directive";
    if (end === -1) {
      throw new KieSimFaultSyntaxError(
        source,
        `'${prompt.slice(start, start + 40)}' is missing its closing ']'`,
      );
    }
    const body = prompt.slice(start + DIRECTIVE_OPEN.length, end);
    const where = `${source} '[sim:${body}]'`;
    const eq = body.indexOf("=");
    const name = (eq === -1 ? body : body.slice(0, eq)).trim();
    const value = eq === -1 ? undefined : body.slice(eq + 1);
    if (seen.has(name)) throw new KieSimFaultSyntaxError(where, `'${name}' given twice`);
    seen.add(name);
    switch (name) {
      case "fail": {
        const message = value?.trim();
        if (value !== undefined && !message) throw new KieSimFaultSyntaxError(where, "fail= needs a message");
        result.fail = { message };
        break;
      }
      case "never":
        noValue(where, name, value);
        result.never = true;
        break;
      case "delay":
        result.delayMs = parseInteger(where, name, value?.trim(), 0, 3_600_000);
        break;
      case "callback": {
        const v = value?.trim() ?? "";
        if (v === "none" || v === "duplicate" || v === "reorder" || v === "early") {
          result.callback = { kind: v };
        } else if (v.startsWith("late=")) {
          result.callback = { kind: "late", ms: parseInteger(where, "late", v.slice(5), 0, 3_600_000) };
        } else {
          throw new KieSimFaultSyntaxError(where, "use callback=none|duplicate|reorder|early|late=<ms>");
        }
        break;
      }
      case "result": {
        const v = value?.trim() ?? "";
        if (v === "not-image") result.result = { kind: "not-image" };
        else if (v.startsWith("oversize=")) {
          result.result = {
            kind: "oversize",
            bytes: parseInteger(where, "oversize", v.slice(9), 1, 200_000_000),
          };
        } else throw new KieSimFaultSyntaxError(where, "use result=not-image|oversize=<bytes>");
        break;
      }
      default:
        throw new KieSimFaultSyntaxError(
          where,
          `unknown directive '${name}' (known: fail, never, delay, callback, result)`,
        );
    }
    clean += prompt.slice(cursor, start);
    cursor = end + 1;
  }
  if (result.fail && result.never) {
    throw new KieSimFaultSyntaxError("input.prompt directive", "'fail' and 'never' cannot be combined");
  }
  clean += prompt.slice(cursor);
  result.cleanPrompt = clean.replace(/\s+/g, " ").trim();
  return result;
}
