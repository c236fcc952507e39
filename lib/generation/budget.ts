/**
 * The port to KIE's account-wide budget (docs/JOBS.md, issue 23): KIE allows about
 * KIE_CREATE_LIMIT new tasks per 10 s and KIE_READ_LIMIT status reads per second for the whole
 * account, shared by every user and every instance. Each call to KIE takes a token first; the
 * adapter keeps the counts where every instance sees them (the app's database), never in process
 * memory. lib/generation depends on this interface only.
 *
 * Where it is (issue 23 part 1): the adapter is lib/db/kieBudget.ts (createKieBudget), built in
 * lib/compose.ts (createKieBudgets) and handed to the use case as `ctx.budget` (UNLIMITED_BUDGET
 * when none is given) and to the App as `app.budget`. Status reads already take their tokens in the
 * KIE client (readBudget.ts); a createTask takes one with takeCreate(). A createTask that KIE
 * refused with 429 is thrown at once: `ctx.provider.isRateLimited(error)` gives the pause in ms
 * (KIE's Retry-After, else 10 s) for pauseCreates().
 */

/** A token was taken, or none is left and one may be in `retryInMs`. */
export type BudgetGrant = { ok: true } | { ok: false; retryInMs: number };

export interface KieBudget {
  /** One createTask (a paid task). */
  takeCreate(): Promise<BudgetGrant>;
  /** One status read (polling, a callback's re-read, the reconciler, a sweep). */
  takeRead(): Promise<BudgetGrant>;
  /** KIE answered 429 to a createTask: no instance creates for `ms`. */
  pauseCreates(ms: number): Promise<void>;
}

/** No limits (tests, and deployments that opt out): every token is granted at once. */
export const UNLIMITED_BUDGET: KieBudget = {
  takeCreate: async () => ({ ok: true }),
  takeRead: async () => ({ ok: true }),
  pauseCreates: async () => {},
};
