/**
 * KIE's account-wide budget (the port is lib/generation/budget.ts; lib/compose.ts checks this
 * adapter against it) kept in the app's own database, so every instance takes from the same
 * counts: rate-limiter-flexible's RateLimiterDrizzle over the kie_budget table, one atomic upsert
 * per token on PGlite and Postgres alike. Nothing is counted in process memory.
 *
 * The windows are fixed, and fixed windows let up to twice their points through around a boundary.
 * So KIE's limit (at most N calls in any span of W) is kept with small windows: see planWindows.
 * Each window starts with the instance's own clock (`now` is read before the statement is sent):
 * instances on several hosts need their clocks in step (NTP), as for every other lease here. A take
 * that took long (a busy database, a stalled process) may have been decided with a stale `now`,
 * in a window that has since ended: its token is not used (see MAX_TAKE_SHARE).
 */
import { RateLimiterDrizzle, RateLimiterRes } from "rate-limiter-flexible";
import type { AppDatabase } from "./client";
import { kieBudget } from "./schema";

/** At most `limit` calls in any span of `windowMs` (KIE: about 20 creates per 10 s). */
export interface KieLimit {
  limit: number;
  windowMs: number;
}

export interface KieBudgetLimits {
  /** createTask; undefined = no budget (every token granted). */
  create?: KieLimit;
  /** Status reads (recordInfo); undefined = no budget. */
  read?: KieLimit;
}

/**
 * A take may last this share of the margin (the rest is left for the call's way to KIE): longer,
 * and its token is dropped and another asked for (125 ms for reads, 500 ms for creates).
 */
const MAX_TAKE_SHARE = 0.5;
/** Tokens dropped for a slow take, at most, before the take answers "none left". */
const MAX_SLOW_TAKES = 3;

/** A fixed window: `points` tokens per `durationMs`. */
export interface WindowPlan {
  points: number;
  durationMs: number;
}

/**
 * A granted call reaches KIE a little later, and not always equally late: KIE's window is kept with
 * this much to spare — 10 %, at least 250 ms (11 s for KIE's 10 s, 1.25 s for a second).
 */
export function windowMarginMs(windowMs: number): number {
  return Math.max(windowMs * 0.1, 250);
}

/**
 * The fixed windows that keep every span of KIE's window (plus the margin), L, at or under the
 * limit N. Windows follow one another without overlap, each w long, so a span of L touches at most
 * ⌈L/w⌉ + 1 of them; n points each then allow n·(⌈L/w⌉ + 1) in the span. One point per window of
 * w = L / (N − 1) gives N exactly, and the most calls per second any fixed windows can while
 * keeping that bound ((N − 1) per L), spread evenly instead of in bursts. N must be at least 2.
 */
export function planWindows({ limit, windowMs }: KieLimit): WindowPlan {
  if (!Number.isInteger(limit) || limit < 2) throw new RangeError("a KIE limit must be an integer >= 2");
  const span = windowMs + windowMarginMs(windowMs);
  return { points: 1, durationMs: Math.ceil(span / (limit - 1)) };
}

type Grant = { ok: true } | { ok: false; retryInMs: number };

const GRANTED: Grant = { ok: true };

interface Limiter {
  key: string;
  rl: RateLimiterDrizzle;
  /** A take that lasted longer may have counted in a window already over: its token is dropped. */
  maxTakeMs: number;
  /** One of its fixed windows. */
  windowMs: number;
}

function limiter(db: AppDatabase, key: string, limit: KieLimit): Limiter {
  const plan = planWindows(limit);
  const rl = new RateLimiterDrizzle({
    storeClient: db,
    schema: kieBudget,
    keyPrefix: "kie",
    points: plan.points,
    duration: plan.durationMs / 1000,
    // Two rows that are rewritten, never piling up: no cleanup timer.
    clearExpiredByTimeout: false,
  });
  return { key, rl, maxTakeMs: windowMarginMs(limit.windowMs) * MAX_TAKE_SHARE, windowMs: plan.durationMs };
}

/**
 * One token from `budget`, or how long until the next; a database failure is thrown. A token whose
 * take was slow is dropped: it may have counted in a window that has already ended.
 */
async function take(budget: Limiter | undefined): Promise<Grant> {
  if (!budget) return GRANTED;
  for (let slow = 0; slow < MAX_SLOW_TAKES; slow++) {
    const started = Date.now();
    try {
      await budget.rl.consume(budget.key, 1);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      return { ok: false, retryInMs: Math.max(1, refusal.msBeforeNext) };
    }
    if (Date.now() - started <= budget.maxTakeMs) return GRANTED;
  }
  return { ok: false, retryInMs: budget.windowMs };
}

/** The KieBudget port over the database (satisfies lib/generation/budget.ts structurally). */
export function createKieBudget(db: AppDatabase, limits: KieBudgetLimits) {
  const create = limits.create && limiter(db, "create", limits.create);
  const read = limits.read && limiter(db, "read", limits.read);
  return {
    takeCreate: (): Promise<Grant> => take(create),
    takeRead: (): Promise<Grant> => take(read),
    /** Blocks the create key for every instance; a pause already longer is kept. */
    async pauseCreates(ms: number): Promise<void> {
      if (!create || !(ms > 0)) return;
      const current = await create.rl.get(create.key);
      const paused = current && current.consumedPoints > create.rl.points ? current.msBeforeNext : 0;
      if (paused >= ms) return;
      await create.rl.block(create.key, ms / 1000);
    },
  };
}
