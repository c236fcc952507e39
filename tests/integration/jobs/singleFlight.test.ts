/**
 * Single-flight refresh without callbacks (DESIGN.md §5): however many clients poll one running
 * job — on one instance or several sharing the database — KIE is read at most once per lease
 * interval (1 s for a young job), the winner of a conditional UPDATE on the row. The final look
 * at KIE when a job times out is single-flight too.
 *
 * Bounds are stated against elapsed time (at most 1 + ⌊elapsed / 1 s⌋ reads), so a slow machine
 * cannot make a correct implementation fail.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  backdate,
  creditsOf,
  jobRow,
  ledgerOf,
  pause,
  readStatus,
  recordInfoReads,
  startJob,
} from "./jobKit";

/** The lease interval for a job younger than 10 s (docs/JOBS.md). */
const LEASE_MS = 1_000;

const maxReadsWithin = (elapsedMs: number) => 1 + Math.floor(elapsedMs / LEASE_MS);

describeEachDatabase(
  "jobs: single-flight refresh",
  (getDb) => {
    const harnesses: Harness[] = [];
    afterEach(async () => {
      // Newest first: each close uninstalls the app the route handlers use.
      for (const harness of harnesses.reverse()) await harness.close();
      harnesses.length = 0;
    });

    async function harness(env: Record<string, string> = {}): Promise<Harness> {
      const started = await startHarness({ database: getDb(), env });
      harnesses.push(started);
      return started;
    }

    it("30 concurrent polls of a running job make one KIE read", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] a long exposure");
      expect(recordInfoReads(h)).toBe(0);
      // A slow KIE keeps the winner's read in flight while the other polls arrive.
      h.sim.setFaults("recordInfo:latency=300");

      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 30 }, () => readStatus(h, token, taskId)));
      const elapsed = performance.now() - started;

      for (const answer of answers) expect(["pending", "processing"]).toContain(answer.status);
      const reads = recordInfoReads(h);
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(maxReadsWithin(elapsed));
    });

    it("steady polling reads KIE about once per lease interval, not once per poll", async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] a time lapse");

      const started = performance.now();
      let polls = 0;
      // At least 100 polls over at least 2.5 s, however slow the machine is.
      for (let round = 0; round < 400 && (polls < 100 || performance.now() - started < 2_500); round++) {
        await Promise.all(Array.from({ length: 10 }, () => readStatus(h, token, taskId)));
        polls += 10;
        await pause(50);
      }
      const elapsed = performance.now() - started;

      const reads = recordInfoReads(h);
      expect(polls).toBeGreaterThanOrEqual(100);
      expect(reads).toBeGreaterThanOrEqual(2); // the job keeps being refreshed
      expect(reads).toBeLessThanOrEqual(maxReadsWithin(elapsed));
    });

    it("two app instances sharing the database share one lease", async () => {
      const first = await harness();
      // A second instance on the same database, talking to the same KIE.
      const second = await harness({ KIE_BASE_URL: first.sim.url });
      const { token, userId } = await second.signIn();
      const { taskId } = await startJob(second, token, "[sim:never] seen from two instances");
      first.sim.setFaults("recordInfo:latency=300");

      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? first : second).app.generations.getForUser(userId, taskId),
        ),
      );
      const elapsed = performance.now() - started;

      for (const answer of answers) expect(answer?.job.status).toMatch(/^(pending|processing)$/);
      const reads = recordInfoReads(first);
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(maxReadsWithin(elapsed));
      expect(recordInfoReads(second)).toBe(0);
    });

    it("30 concurrent polls at the timeout make one last KIE read and release the credits once", async () => {
      const h = await harness({ KIE_TIMEOUT_MS: "1000" });
      const { token } = await h.signIn();
      const { taskId } = await startJob(h, token, "[sim:never] past its time");
      const row = await jobRow(getDb(), taskId);
      await backdate(getDb(), row.id, 2);
      h.sim.setFaults("recordInfo:latency=300");

      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 30 }, () => readStatus(h, token, taskId)));
      const elapsed = performance.now() - started;

      // Some polls may answer from the row while the winner is still asking KIE; none settles twice.
      const final = await readStatus(h, token, taskId);
      expect(final).toMatchObject({ status: "timeout", creditsUsed: 0, error: { code: "upstream_timeout" } });
      for (const answer of answers) expect(["pending", "processing", "timeout"]).toContain(answer.status);
      const reads = recordInfoReads(h);
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(maxReadsWithin(elapsed));
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
      expect(await creditsOf(h, token)).toBe(10);
    });
  },
  { concurrency: true },
);
