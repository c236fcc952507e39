/**
 * Every status read takes a token of KIE's read budget (budget.ts, issue 23) before it goes out:
 * polling, a callback's re-read, the reconciler and sweeps alike, since all read through the
 * provider's readTask. lib/compose.ts installs the gate in the KIE client, where it runs before
 * every HTTP attempt (a retry is one more read for KIE). A read that finds no token waits a little
 * (abortable by its caller) or is skipped with ReadBudgetExhaustedError: the caller treats it as a
 * failed read and the job stays as it was — never a read beyond the budget.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { brand } from "@/lib/brand";
import type { KieBudget } from "./budget";

/** A read waits at most this long for a token; beyond, it is skipped (the next cycle reads). */
export const READ_TOKEN_MAX_WAIT_MS = 2_000;

/** No read token within the wait: try later. Not the provider failing. */
export class ReadBudgetExhaustedError extends Error {
  constructor(readonly retryInMs: number) {
    super(`KIE's read budget is used up for now; next token in ${retryInMs} ms`);
    this.name = "ReadBudgetExhaustedError";
  }
}

export interface ReadGateOptions {
  /** Default READ_TOKEN_MAX_WAIT_MS. */
  maxWaitMs?: number;
  /** Told when a read had to wait for its token, or was skipped. */
  onWait?: (outcome: "waited" | "skipped") => void;
  random?: () => number;
}

/**
 * Resolves once a read token is taken; rejects with ReadBudgetExhaustedError when none comes
 * within the wait, or with the signal's reason as soon as the caller aborts.
 */
export function createReadGate(
  budget: KieBudget,
  options: ReadGateOptions = {},
): (signal?: AbortSignal) => Promise<void> {
  const maxWaitMs = options.maxWaitMs ?? READ_TOKEN_MAX_WAIT_MS;
  const random = options.random ?? Math.random;
  return async (signal) => {
    const started = Date.now();
    let waited = false;
    for (;;) {
      signal?.throwIfAborted();
      const grant = await budget.takeRead();
      if (grant.ok) {
        if (waited) options.onWait?.("waited");
        return;
      }
      if (grant.retryInMs > maxWaitMs - (Date.now() - started)) {
        options.onWait?.("skipped");
        throw new ReadBudgetExhaustedError(grant.retryInMs);
      }
      waited = true;
      // Waiters spread over the next window instead of all asking at its first instant.
      const delayMs = grant.retryInMs + Math.floor(random() * grant.retryInMs);
      await sleep(delayMs, undefined, { signal }).catch((error: unknown) => {
        signal?.throwIfAborted();
        throw error;
      });
    }
  };
}

/** A read skipped for want of a budget token (not KIE failing: nothing was asked of it). */
export function isReadBudgetExhausted(error: unknown): error is ReadBudgetExhaustedError {
  return error instanceof ReadBudgetExhaustedError;
}

brand(ReadBudgetExhaustedError, "generation.ReadBudgetExhaustedError");
