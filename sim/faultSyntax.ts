/**
 * The fault grammar's parser: `item(;item)*` specs (the `X-Kie-Sim-Fault` header) and the global
 * rules built from them (`endpoint:spec`, comma or newline separated, or rule objects). Parsed
 * strictly: a typo must fail loudly, because a fault that silently does nothing makes a test pass
 * for the wrong reason.
 */
import {
  type FaultOutcome,
  type FaultRule,
  type FaultSpec,
  KIE_SIM_ENDPOINTS,
  type KieSimEndpointSelector,
  type KieSimFaultRuleInput,
  KieSimFaultSyntaxError,
} from "./faults";

/** One `name` or `name=value` item, and where it came from (for error messages). */
export interface SyntaxItem {
  source: string;
  name: string;
  value: string | undefined;
}

/** The item's value as an integer within `[min, max]`. */
export function integerItem(item: SyntaxItem, [min, max]: readonly [number, number]): number {
  const { source, name, value } = item;
  if (value === undefined || !/^\d+$/.test(value)) {
    throw new KieSimFaultSyntaxError(source, `'${name}' needs an integer value (${name}=<${min}-${max}>)`);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new KieSimFaultSyntaxError(source, `'${name}=${value}' is out of range ${min}-${max}`);
  }
  return n;
}

export function noValue(item: SyntaxItem): void {
  if (item.value !== undefined)
    throw new KieSimFaultSyntaxError(item.source, `'${item.name}' takes no value`);
}

const MAX_LATENCY_MS = 600_000;
const MAX_COUNT = 1_000_000_000;
const PROBABILITY = /^(0(\.\d+)?|1(\.0+)?|\.\d+)$/;

interface ParsedItems {
  spec: FaultSpec;
  times?: number;
  probability?: number;
}

/** Reads one spec's items into a FaultSpec. `allowSelectors` admits `times=` and `p=` (rules only). */
class SpecParser {
  readonly parsed: ParsedItems = { spec: { after: false, latencyMs: 0 } };
  private retryAfterSeconds?: number;

  constructor(
    private readonly source: string,
    private readonly allowSelectors: boolean,
  ) {}

  item(item: SyntaxItem): void {
    const { spec } = this.parsed;
    switch (item.name) {
      case "http":
      case "code":
        this.setOutcome({ kind: "http", status: integerItem(item, [400, 599]) }, item.name);
        return;
      case "body-code":
        this.setOutcome({ kind: "body-code", code: integerItem(item, [201, 999]) }, item.name);
        return;
      case "hang":
      case "reset":
        noValue(item);
        this.setOutcome({ kind: item.name }, item.name);
        return;
      case "malformed":
        this.setOutcome({ kind: "malformed", variant: this.malformedVariant(item.value) }, item.name);
        return;
      case "retry-after":
        this.retryAfterSeconds = integerItem(item, [0, 86_400]);
        return;
      case "latency":
        spec.latencyMs = integerItem(item, [0, MAX_LATENCY_MS]);
        return;
      case "slow":
        spec.bytesPerSecond = integerItem(item, [1, MAX_COUNT]);
        return;
      case "after":
        noValue(item);
        spec.after = true;
        return;
      case "fail-task": {
        const message = item.value?.trim();
        if (item.value !== undefined && !message) throw this.error("fail-task= needs a message");
        spec.failTask = { message };
        return;
      }
      case "times":
        this.selectorOnly(item.name);
        this.parsed.times = integerItem(item, [1, MAX_COUNT]);
        return;
      case "p":
        this.selectorOnly(item.name);
        this.parsed.probability = this.probability(item.value);
        return;
      default:
        throw this.error(
          `unknown fault '${item.name}' (known: http, code, body-code, retry-after, hang, reset, malformed, latency, slow, after, fail-task${this.allowSelectors ? ", times, p" : ""})`,
        );
    }
  }

  /** Checks the items that depend on each other; call once all are read. */
  finish(): ParsedItems {
    const { spec } = this.parsed;
    if (this.retryAfterSeconds !== undefined) {
      const o = spec.outcome;
      if (!o || (o.kind !== "http" && o.kind !== "body-code")) {
        throw this.error("'retry-after' needs http=<status> or body-code=<code>");
      }
      o.retryAfterSeconds = this.retryAfterSeconds;
    }
    if (spec.after && !spec.outcome) {
      throw this.error("'after' needs an outcome (http, body-code, hang, reset or malformed)");
    }
    return this.parsed;
  }

  private setOutcome(outcome: FaultOutcome, name: string): void {
    const current = this.parsed.spec.outcome;
    if (current) throw this.error(`'${name}' conflicts with '${current.kind}': one outcome per spec`);
    this.parsed.spec.outcome = outcome;
  }

  private malformedVariant(value: string | undefined): "json" | "html" {
    const variant = value ?? "json";
    if (variant !== "json" && variant !== "html") {
      throw this.error(`'malformed=${value}': use malformed, malformed=json or malformed=html`);
    }
    return variant;
  }

  private probability(value: string | undefined): number {
    const p = value === undefined || !PROBABILITY.test(value) ? Number.NaN : Number(value);
    if (Number.isNaN(p)) throw this.error(`'p' needs a probability between 0 and 1`);
    return p;
  }

  private selectorOnly(name: string): void {
    if (!this.allowSelectors) throw this.error(`'${name}' only applies to global fault rules`);
  }

  private error(message: string): KieSimFaultSyntaxError {
    return new KieSimFaultSyntaxError(this.source, message);
  }
}

/** Parses `item(;item)*` where item is `name` or `name=value`. */
function parseItems(text: string, options: { source: string; allowSelectors: boolean }): ParsedItems {
  const { source } = options;
  const items = text.split(";").map((s) => s.trim());
  if (items.every((i) => i === "")) throw new KieSimFaultSyntaxError(source, "empty fault spec");
  const parser = new SpecParser(source, options.allowSelectors);
  const seen = new Set<string>();
  for (const item of items) {
    if (item === "") throw new KieSimFaultSyntaxError(source, "empty item (stray ';')");
    const eq = item.indexOf("=");
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : item.slice(eq + 1).trim();
    if (seen.has(name)) throw new KieSimFaultSyntaxError(source, `'${name}' given twice`);
    seen.add(name);
    parser.item({ source, name, value });
  }
  return parser.finish();
}

/** Parses the value of an `X-Kie-Sim-Fault` header. */
export function parseFaultHeader(value: string): FaultSpec {
  return parseItems(value, { source: "X-Kie-Sim-Fault", allowSelectors: false }).spec;
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

/** One rule: its fault spec, plus `times`/`probability` given outside the spec (object form). */
function toRule(rule: KieSimFaultRuleInput, source: string): FaultRule {
  const { endpoint, fault, times, probability } = rule;
  const parsed = parseItems(fault, { source, allowSelectors: true });
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
  const parts = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  return parts.map((part, index) => {
    const where = `${source} rule ${index + 1} '${part}'`;
    const colon = part.indexOf(":");
    if (colon === -1) throw new KieSimFaultSyntaxError(where, "expected <endpoint>:<fault>");
    const endpoint = parseSelector(part.slice(0, colon).trim(), where);
    return toRule({ endpoint, fault: part.slice(colon + 1) }, where);
  });
}

const RULE_FIELDS = new Set(["endpoint", "fault", "times", "probability"]);

function ruleFromObject(item: unknown, where: string): FaultRule {
  if (typeof item !== "object" || item === null) {
    throw new KieSimFaultSyntaxError(
      where,
      "expected a rule string or {endpoint, fault, times?, probability?}",
    );
  }
  const unknown = Object.keys(item).filter((k) => !RULE_FIELDS.has(k));
  if (unknown.length > 0) throw new KieSimFaultSyntaxError(where, `unknown field(s) ${unknown.join(", ")}`);
  const rule = item as Partial<Record<keyof KieSimFaultRuleInput, unknown>>;
  if (typeof rule.endpoint !== "string")
    throw new KieSimFaultSyntaxError(where, "'endpoint' must be a string");
  if (typeof rule.fault !== "string") throw new KieSimFaultSyntaxError(where, "'fault' must be a string");
  if (rule.times !== undefined && typeof rule.times !== "number") {
    throw new KieSimFaultSyntaxError(where, "'times' must be a number");
  }
  if (rule.probability !== undefined && typeof rule.probability !== "number") {
    throw new KieSimFaultSyntaxError(where, "'probability' must be a number");
  }
  const { times, probability } = rule as { times?: number; probability?: number };
  return toRule(
    { endpoint: parseSelector(rule.endpoint, where), fault: rule.fault, times, probability },
    where,
  );
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
    return typeof item === "string" ? parseFaultRules(item, where) : [ruleFromObject(item, where)];
  });
}
