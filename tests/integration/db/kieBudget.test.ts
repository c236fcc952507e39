/**
 * KIE's account-wide budget in the app's database (lib/db/kieBudget.ts, issue 23): every instance
 * takes from the same counts, no span of KIE's window ever holds more grants than the limit, and a
 * pause after KIE's 429 holds every instance.
 */
import { describe, expect, it } from "vitest";
import { type Database, openDatabase } from "@/lib/db";
import { createKieBudget, planWindows, windowMarginMs } from "@/lib/db/kieBudget";
import type { KieBudget } from "@/lib/generation/budget";
import { describeEachDatabase } from "@/tests/helpers/database";

const HOUR = 3_600_000;

/** A grant: the call that took it started at `from` and had its answer at `to`. */
interface Grant {
  from: number;
  to: number;
}

/** Takes tokens as fast as the budget allows until `untilMs`, sleeping as long as it says. */
async function drain(take: () => ReturnType<KieBudget["takeCreate"]>, untilMs: number): Promise<Grant[]> {
  const grants: Grant[] = [];
  while (Date.now() < untilMs) {
    const from = Date.now();
    const grant = await take();
    if (grant.ok) grants.push({ from, to: Date.now() });
    else await new Promise((resolve) => setTimeout(resolve, Math.min(grant.retryInMs, 50)));
  }
  return grants;
}

/**
 * The most grants that certainly fell within one span of `windowMs`: a group counts only if even
 * its earliest start and latest answer lie within the span (the database decided each grant
 * somewhere between the two), so slow answers never make a compliant budget look over its limit.
 */
function mostCertainlyWithin(grants: Grant[], windowMs: number): number {
  const sorted = [...grants].sort((a, b) => a.from - b.from);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let latestAnswer = 0;
    for (let j = i; j < sorted.length; j++) {
      latestAnswer = Math.max(latestAnswer, sorted[j]!.to);
      if (latestAnswer - sorted[i]!.from <= windowMs) most = Math.max(most, j - i + 1);
    }
  }
  return most;
}

describe("fixed windows that keep KIE's limit", () => {
  it("hold at most the limit in any span of KIE's window plus its margin", () => {
    for (const limit of [
      { limit: 20, windowMs: 10_000 },
      { limit: 8, windowMs: 1_000 },
      { limit: 2, windowMs: 500 },
    ]) {
      const { points, durationMs } = planWindows(limit);
      const span = limit.windowMs + windowMarginMs(limit.windowMs);
      expect(points * (Math.ceil(span / durationMs) + 1)).toBeLessThanOrEqual(limit.limit);
    }
    expect(planWindows({ limit: 20, windowMs: 10_000 })).toEqual({ points: 1, durationMs: 579 });
    expect(() => planWindows({ limit: 1, windowMs: 10_000 })).toThrow(RangeError);
  });
});

describeEachDatabase(
  "KIE budget in the database",
  (getDb, variant) => {
    /** A second instance: on Postgres its own connection pool to the same database. */
    async function secondInstance(): Promise<{ database: Database; close(): Promise<void> }> {
      const url = variant.databaseUrl();
      if (!url) return { database: getDb(), close: async () => {} };
      const database = await openDatabase({ databaseUrl: url, maxConnections: 4 });
      return { database, close: () => database.close() };
    }

    it("never grants more than the limit in any span of KIE's window, across two instances in a burst", async () => {
      const limits = { create: { limit: 5, windowMs: 1_000 }, read: { limit: 5, windowMs: 1_000 } };
      const other = await secondInstance();
      try {
        const a = createKieBudget(getDb().db, limits);
        const b = createKieBudget(other.database.db, limits);
        const until = Date.now() + 2_500;
        const takers = [a, a, b, b].map((budget) => drain(() => budget.takeCreate(), until));
        const grants = (await Promise.all(takers)).flat();
        expect(grants.length).toBeGreaterThan(limits.create.limit); // the burst really crossed windows
        expect(mostCertainlyWithin(grants, limits.create.windowMs)).toBeLessThanOrEqual(limits.create.limit);
      } finally {
        await other.close();
      }
    });

    it("tells how long until the next token when none is left", async () => {
      const budget = createKieBudget(getDb().db, {
        create: { limit: 2, windowMs: HOUR },
        read: { limit: 2, windowMs: HOUR },
      });
      expect(await budget.takeCreate()).toEqual({ ok: true });
      const refused = await budget.takeCreate();
      expect(refused.ok).toBe(false);
      expect(!refused.ok && refused.retryInMs).toBeGreaterThan(HOUR / 2);
    });

    it("keeps creates and reads apart: no create token left does not stop a read", async () => {
      const budget = createKieBudget(getDb().db, {
        create: { limit: 2, windowMs: HOUR },
        read: { limit: 2, windowMs: HOUR },
      });
      await budget.takeCreate();
      expect((await budget.takeCreate()).ok).toBe(false);
      expect(await budget.takeRead()).toEqual({ ok: true });
      expect((await budget.takeRead()).ok).toBe(false);
    });

    it("pauses creates on every instance after KIE's 429, and a shorter pause does not cut it short", async () => {
      const limits = { create: { limit: 20, windowMs: 10_000 }, read: { limit: 8, windowMs: 1_000 } };
      const other = await secondInstance();
      try {
        const a = createKieBudget(getDb().db, limits);
        const b = createKieBudget(other.database.db, limits);
        await a.pauseCreates(60_000);
        await b.pauseCreates(1_000);
        for (const budget of [a, b]) {
          const refused = await budget.takeCreate();
          expect(refused.ok).toBe(false);
          expect(!refused.ok && refused.retryInMs).toBeGreaterThan(50_000);
        }
        const read = await b.takeRead();
        expect(read.ok || read.retryInMs < 1_000).toBe(true); // reads are not paused
      } finally {
        await other.close();
      }
    });

    it("grants every token when a budget is off", async () => {
      const budget = createKieBudget(getDb().db, { create: undefined, read: undefined });
      for (let i = 0; i < 30; i++) expect(await budget.takeCreate()).toEqual({ ok: true });
      expect(await budget.takeRead()).toEqual({ ok: true });
    });
  },
  { concurrency: true },
);
