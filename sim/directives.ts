/**
 * Prompt directives, kie-sim's per-task faults: `[sim:fail]`, `[sim:fail=<msg>]`, `[sim:never]`,
 * `[sim:delay=<ms>]`, `[sim:callback=none|duplicate|reorder|early|late=<ms>]` and
 * `[sim:result=not-image|oversize=<bytes>]` and `[sim:ratio=<w>:<h>]` anywhere in `input.prompt`. Parsed as strictly as the
 * fault header (faultSyntax.ts), whose item helpers they share.
 */

import { integerItem, noValue, type SyntaxItem } from "./faultSyntax";
import { KieSimFaultSyntaxError } from "./faults";

export type CallbackMode =
  | { kind: "normal" }
  | { kind: "none" }
  | { kind: "duplicate" }
  | { kind: "reorder" }
  | { kind: "early" }
  | { kind: "late"; ms: number };

export interface PromptDirectives {
  fail?: { message?: string };
  /**
   * `[sim:fail-once=<msg>]`: the first task of this account with this very prompt fails, the
   * others succeed — one refused image of a batch whose jobs share a prompt.
   */
  failOnce?: { message?: string };
  never: boolean;
  /** Total time from creation to the final state, overriding the step timing. */
  delayMs?: number;
  callback: CallbackMode;
  /** A result that is not what it should be: not an image at all, or padded to `bytes`. */
  result?: { kind: "not-image" } | { kind: "oversize"; bytes: number };
  /** Draw at this ratio whatever was asked, as the real model sometimes does ("3:2"). */
  ratio?: string;
  /** The prompt with the directives removed (what the image is drawn from). */
  cleanPrompt: string;
}

const DIRECTIVE_OPEN = "[sim:";
const SOURCE = "input.prompt directive";
const MAX_DELAY: readonly [number, number] = [0, 3_600_000];

function callbackMode(item: SyntaxItem): CallbackMode {
  const v = item.value?.trim() ?? "";
  if (v === "none" || v === "duplicate" || v === "reorder" || v === "early") return { kind: v };
  if (v.startsWith("late=")) {
    return { kind: "late", ms: integerItem({ ...item, name: "late", value: v.slice(5) }, MAX_DELAY) };
  }
  throw new KieSimFaultSyntaxError(item.source, "use callback=none|duplicate|reorder|early|late=<ms>");
}

/**
 * Enough to pass the app's 25 MiB result cap, and no more: the padding is held in memory per
 * task, so a prompt must not make the simulator allocate hundreds of MB.
 */
export const MAX_OVERSIZE_BYTES = 32 * 1024 * 1024;

function resultMode(item: SyntaxItem): PromptDirectives["result"] {
  const v = item.value?.trim() ?? "";
  if (v === "not-image") return { kind: "not-image" };
  if (v.startsWith("oversize=")) {
    return {
      kind: "oversize",
      bytes: integerItem({ ...item, name: "oversize", value: v.slice(9) }, [1, MAX_OVERSIZE_BYTES]),
    };
  }
  throw new KieSimFaultSyntaxError(item.source, "use result=not-image|oversize=<bytes>");
}

/** Applies one directive to `into`. */
function applyDirective(into: PromptDirectives, item: SyntaxItem): void {
  switch (item.name) {
    case "fail": {
      const message = item.value?.trim();
      if (item.value !== undefined && !message) {
        throw new KieSimFaultSyntaxError(item.source, "fail= needs a message");
      }
      into.fail = { message };
      return;
    }
    case "fail-once": {
      const message = item.value?.trim();
      if (item.value !== undefined && !message) {
        throw new KieSimFaultSyntaxError(item.source, "fail-once= needs a message");
      }
      into.failOnce = { message };
      return;
    }
    case "never":
      noValue(item);
      into.never = true;
      return;
    case "delay":
      into.delayMs = integerItem({ ...item, value: item.value?.trim() }, MAX_DELAY);
      return;
    case "callback":
      into.callback = callbackMode(item);
      return;
    case "result":
      into.result = resultMode(item);
      return;
    case "ratio": {
      const ratio = item.value?.trim() ?? "";
      const parts = /^(\d{1,2}):(\d{1,2})$/.exec(ratio);
      if (!parts || Number(parts[1]) === 0 || Number(parts[2]) === 0) {
        throw new KieSimFaultSyntaxError(item.source, "use ratio=<w>:<h>, e.g. ratio=1:1");
      }
      into.ratio = ratio;
      return;
    }
    default:
      throw new KieSimFaultSyntaxError(
        item.source,
        `unknown directive '${item.name}' (known: fail, fail-once, never, delay, callback, result, ratio)`,
      );
  }
}

export function parsePromptDirectives(prompt: string): PromptDirectives {
  const result: PromptDirectives = { never: false, callback: { kind: "normal" }, cleanPrompt: "" };
  const seen = new Set<string>();
  let clean = "";
  let cursor = 0;
  for (;;) {
    const start = prompt.indexOf(DIRECTIVE_OPEN, cursor);
    if (start === -1) break;
    const end = prompt.indexOf("]", start);
    if (end === -1) {
      throw new KieSimFaultSyntaxError(
        SOURCE,
        `'${prompt.slice(start, start + 40)}' is missing its closing ']'`,
      );
    }
    const body = prompt.slice(start + DIRECTIVE_OPEN.length, end);
    const where = `${SOURCE} '[sim:${body}]'`;
    const eq = body.indexOf("=");
    const name = (eq === -1 ? body : body.slice(0, eq)).trim();
    if (seen.has(name)) throw new KieSimFaultSyntaxError(where, `'${name}' given twice`);
    seen.add(name);
    applyDirective(result, { source: where, name, value: eq === -1 ? undefined : body.slice(eq + 1) });
    clean += prompt.slice(cursor, start);
    cursor = end + 1;
  }
  if (result.fail && result.never) {
    throw new KieSimFaultSyntaxError(SOURCE, "'fail' and 'never' cannot be combined");
  }
  clean += prompt.slice(cursor);
  result.cleanPrompt = clean.replace(/\s+/g, " ").trim();
  return result;
}
