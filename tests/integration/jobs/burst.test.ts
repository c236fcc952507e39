/**
 * Issue 23's burst, end to end: against a kie-sim that enforces KIE's account limits (20 creates
 * per 10 s, 10 status reads per second, 429 beyond), 60 generate requests from 30 users within
 * one second — on two app instances sharing one Postgres database (one instance on PGlite) — all
 * wait in our line instead of failing: no user sees a 429 or 503, every job succeeds, KIE refuses
 * nothing (so it never saw more than its limits), and each user pays once per delivered image.
 */
import { afterEach, expect, it } from "vitest";
import { auditLedger, describeAudit } from "@/lib/credits";
import { type Database, openDatabase } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, type StatusBody } from "./jobKit";

/** KIE's limits (kie-api.md "Rate limit"), enforced by the sim. */
const KIE_LIMITS = {
  createTaskRateLimit: { limit: 20, windowMs: 10_000 },
  recordInfoRateLimit: { limit: 10, windowMs: 1_000 },
};
const USERS = 30;
const PER_USER = 2;
const INITIAL = 10;
/** The line sends 60 creates at 20 per 10 s (~30 s); a generous bound for a loaded machine. */
const POLL_ROUNDS = 180;
const POLL_INTERVAL_MS = 500;

describeEachDatabase(
  "jobs: a burst of 60 creates waits in line for KIE's budget",
  (getDb, variant) => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.reverse()) await close();
      closers.length = 0;
    });

    /** The app instances: two on Postgres (each its own pool), one on PGlite (embedded). */
    async function instances(): Promise<Harness[]> {
      const env = {
        // The account's budget as configured in production (the harness turns it off by default).
        KIE_CREATE_LIMIT: "20/10s",
        KIE_READ_LIMIT: "8/1s",
        CREDITS_INITIAL: `${INITIAL}`,
        // 30 users behind one test client: the per-IP limit is not what this test is about.
        RATE_LIMIT_IP_PER_MINUTE: "10000",
      };
      const first = await startHarness({ database: getDb(), env, sim: KIE_LIMITS });
      closers.push(() => first.close());
      const url = variant.databaseUrl();
      if (!url) return [first];
      const database: Database = await openDatabase({ databaseUrl: url, maxConnections: 10 });
      closers.push(() => database.close());
      const second = await startHarness({
        database,
        env: { ...env, KIE_BASE_URL: first.sim.url, KIE_UPLOAD_BASE_URL: first.sim.url },
      });
      closers.push(() => second.close());
      return [first, second];
    }

    it("60 requests from 30 users in one second: none refused, all delivered, KIE's limits kept, each charged once", async () => {
      const apps = await instances();
      const kie = apps[0]!.sim; // the one KIE account every instance talks to
      // Each user signed in on every instance (one account: the same user behind each token).
      const users = await Promise.all(
        Array.from({ length: USERS }, async (_, i) => {
          const sessions = await Promise.all(apps.map((h) => h.signIn(`burst${i}@example.com`)));
          expect(new Set(sessions.map((s) => s.userId)).size).toBe(1);
          return { userId: sessions[0]!.userId, tokens: sessions.map((s) => s.token) };
        }),
      );

      // Each user sends two requests at once, one to each instance (when there are two).
      const requests = users.flatMap((user) =>
        Array.from({ length: PER_USER }, (_, n) => ({ user, at: n % apps.length, n })),
      );
      const answers = await Promise.all(
        requests.map(async ({ user, at, n }) => {
          const h = apps[at]!;
          const token = user.tokens[at]!;
          const response = await h.fetch("/api/generate", {
            method: "POST",
            token,
            headers: { "content-type": "application/json", prefer: "respond-async" },
            body: JSON.stringify({ prompt: `burst ${user.userId} #${n}` }),
          });
          return { status: response.status, body: (await response.json()) as StatusBody, token, h };
        }),
      );
      expect(answers.map((a) => a.status).filter((s) => s !== 202)).toEqual([]);
      const queued = answers.filter((a) => "queuePosition" in a.body).length;
      expect(queued).toBeGreaterThan(0); // the burst did meet the budget: some waited in line

      // Every user polls their jobs, as the studio does, until they end (bounded).
      const open = new Map(answers.map((a) => [a.body.taskId, a]));
      const ended: StatusBody[] = [];
      const seen: number[] = [];
      for (let round = 0; round < POLL_ROUNDS && open.size > 0; round++) {
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
        await Promise.all(
          [...open].map(async ([taskId, { token, h }]) => {
            const response = await h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, { token });
            seen.push(response.status);
            if (response.status !== 200) return;
            const body = (await response.json()) as StatusBody;
            if (body.status === "pending" || body.status === "processing") return;
            ended.push(body);
            open.delete(taskId);
          }),
        );
      }
      expect(seen.filter((s) => s !== 200)).toEqual([]); // no 429/503 while polling either
      expect([...open.keys()], "jobs still open after the bound").toEqual([]);
      const notDelivered = ended.filter((b) => b.status !== "succeeded");
      expect(notDelivered.map((b) => `${b.status}: ${JSON.stringify(b.error)}`)).toEqual([]);
      expect(ended).toHaveLength(USERS * PER_USER);

      // KIE refused nothing: the line kept every instance within the account's limits.
      const limits = kie.limits();
      expect(limits.createTask).toMatchObject({ accepted: USERS * PER_USER, refused: 0 });
      expect(limits.createTask.maxAcceptedInWindow).toBeLessThanOrEqual(KIE_LIMITS.createTaskRateLimit.limit);
      expect(limits.recordInfo.refused).toBe(0);
      expect(limits.recordInfo.maxAcceptedInWindow).toBeLessThanOrEqual(KIE_LIMITS.recordInfoRateLimit.limit);

      // Each user paid once per delivered image, and the ledger agrees with every job.
      for (const user of users) expect(await creditsOf(apps[0]!, user.tokens[0]!)).toBe(INITIAL - PER_USER);
      const audit = await auditLedger(getDb().db);
      expect(audit.balanced, describeAudit(audit)).toBe(true);
      expect(audit).toMatchObject({ jobs: USERS * PER_USER, openJobs: 0 });
    }, 240_000);
  },
  { concurrency: true },
);
