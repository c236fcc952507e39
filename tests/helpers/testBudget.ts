/**
 * An in-memory KieBudget (the port in lib/generation/budget.ts) for tests of the line: the test
 * decides how many create tokens there are (`give`), and sees every pause. Reads are unlimited.
 */
import type { KieBudget } from "@/lib/generation/budget";

export interface TestBudget extends KieBudget {
  /** Create tokens left. */
  tokens: number;
  /** Every pauseCreates(ms), in order. */
  readonly pauses: number[];
  /** Adds create tokens (as a new window of KIE's budget would). */
  give(count: number): void;
}

/** `retryInMs`: what an empty budget says (short, so a drain looks again soon). */
export function createTestBudget(tokens = 0, retryInMs = 20): TestBudget {
  const budget: TestBudget = {
    tokens,
    pauses: [],
    give(count) {
      budget.tokens += count;
    },
    async takeCreate() {
      if (budget.tokens <= 0) return { ok: false, retryInMs };
      budget.tokens--;
      return { ok: true };
    },
    async takeRead() {
      return { ok: true };
    },
    async pauseCreates(ms) {
      budget.pauses.push(ms);
    },
  };
  return budget;
}
