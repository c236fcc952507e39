/**
 * Serverless hosts (issue 10, item 7): no in-process timer runs there, so
 * - the repository ships a cron schedule (vercel.json) for the reconcile route, which Vercel calls
 *   with GET and `Authorization: Bearer <CRON_SECRET>`;
 * - a user's own status and history reads sweep a few of that user's stale jobs, so their credits
 *   come back even with no cron at all.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as cronRoute from "@/app/api/cron/reconcile/route";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { backdate, creditsOf, eventually, jobRow, ledgerOf, readStatus, simTask, startJob } from "./jobKit";

/** Older than the reconciler's 20 s and than KIE_TIMEOUT_MS (30 s here): stale and timed out. */
const STALE_SECONDS = 40;

describe("vercel.json", () => {
  it("schedules the reconcile route, which answers Vercel Cron's GET", () => {
    const config = JSON.parse(
      readFileSync(path.resolve(import.meta.dirname, "../../../vercel.json"), "utf8"),
    );
    expect(config.crons).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "/api/cron/reconcile" })]),
    );
    for (const cron of config.crons) expect(cron.schedule).toMatch(/^(\S+\s+){4}\S+$/);
    expect(typeof cronRoute.GET).toBe("function");
  });
});

describeEachDatabase("jobs: a user's own reads sweep their stale jobs (no cron, no timer)", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("a history read settles the user's stale jobs: timed-out ones release, finished ones deliver", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_TIMEOUT_MS: "30000" } });
    h = harness;
    const { token } = await harness.signIn();
    const stuck = await startJob(harness, token, "[sim:never] a tab closed for good");
    const done = await startJob(harness, token, "a result nobody came back for");
    await eventually(
      "the KIE task to finish",
      () => simTask(harness, done.taskId),
      (task) => task.state === "success",
    );
    const stuckRow = await jobRow(getDb(), stuck.taskId);
    const doneRow = await jobRow(getDb(), done.taskId);
    await backdate(getDb(), stuckRow.id, STALE_SECONDS);
    await backdate(getDb(), doneRow.id, STALE_SECONDS);
    expect(await creditsOf(harness, token)).toBe(8);

    const response = await harness.fetch("/api/generations", { token });
    const body = await response.json();
    expect(response.status).toBe(200);
    const byId = new Map<string, { status: string }>(
      body.generations.map((job: { taskId: string }) => [job.taskId, job]),
    );
    expect(byId.get(stuck.taskId)?.status).toBe("timeout");
    expect(byId.get(done.taskId)?.status).toBe("succeeded");
    expect(await ledgerOf(getDb(), stuckRow.id)).toEqual({ reserve: 1, release: 1 });
    expect(await ledgerOf(getDb(), doneRow.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await creditsOf(harness, token)).toBe(9);
  });

  it("a status read of one job sweeps the user's other stale jobs; other users' jobs are left alone", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_TIMEOUT_MS: "30000" } });
    h = harness;
    const alice = await harness.signIn();
    const bob = await harness.signIn();
    const aliceStuck = await startJob(harness, alice.token, "[sim:never] alice's forgotten job");
    const bobStuck = await startJob(harness, bob.token, "[sim:never] bob's forgotten job");
    for (const taskId of [aliceStuck.taskId, bobStuck.taskId])
      await backdate(getDb(), (await jobRow(getDb(), taskId)).id, STALE_SECONDS);
    const aliceCurrent = await startJob(harness, alice.token, "[sim:never] alice's current job");

    const current = await readStatus(harness, alice.token, aliceCurrent.taskId);
    expect(current.status).toMatch(/^(pending|processing)$/);
    expect((await jobRow(getDb(), aliceStuck.taskId)).status).toBe("timeout");
    expect((await jobRow(getDb(), bobStuck.taskId)).status).toMatch(/^(pending|processing)$/);
    expect(current.remainingCredits).toBe(9); // alice: 10 − 2 reserved + 1 released
  });
});
