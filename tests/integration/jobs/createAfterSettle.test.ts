/**
 * create() stops when its job was settled meanwhile (issue 10, item 9): with slow uploads and a
 * short KIE_TIMEOUT_MS the reconciler times the job out and releases its credits while the
 * request is still uploading; createTask must then not be sent (it would be a paid KIE task for
 * a released job).
 */

import { eq } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateMultipart, pngImage } from "../generate/generateKit";
import { eventually, ledgerOf } from "./jobKit";

describeEachDatabase("jobs: create after its job was settled", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("a job timed out during its uploads sends no createTask; the answer names the job, credits are back", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_TIMEOUT_MS: "1000" } });
    h = harness;
    harness.sim.setFaults("upload:latency=2500");
    const { token, userId } = await harness.signIn();

    const form = new FormData();
    form.append("prompt", "an edit that takes too long to upload");
    form.append("images", new Blob([new Uint8Array(await pngImage())], { type: "image/png" }), "in.png");
    const answer = generateMultipart(harness, form, { token, prefer: "respond-async" });

    // The job exists and is past KIE_TIMEOUT_MS while its upload is still going: a sweep times it out.
    const [row] = await eventually(
      "the job row",
      () => getDb().db.select().from(generations).where(eq(generations.userId, userId)),
      (rows) => rows.length === 1,
    );
    await eventually(
      "the job to be past KIE_TIMEOUT_MS",
      () => Date.now() - (row?.createdAt.getTime() ?? 0),
      (age) => age > 1_100,
      { attempts: 100, intervalMs: 25 },
    );
    expect(await harness.app.generations.reconcile()).toEqual({ examined: 1, settled: 1 });

    const res = await answer;
    expect(res.status, JSON.stringify(res.body)).toBe(504);
    expect(res.body.error).toMatchObject({ code: "upstream_timeout", taskId: row?.id });
    expect(harness.sim.stats().calls.createTask).toBe(0);
    expect(await ledgerOf(getDb(), row?.id as string)).toEqual({ reserve: 1, release: 1 });
    expect(await creditsOf(harness, token)).toBe(10);
    harness.sim.setFaults([]);
  }, 20_000);
});
