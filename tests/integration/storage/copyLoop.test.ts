/**
 * The images' loop runs beside the jobs' sweep (issue 22 item 5; docs/JOBS.md "Who settles"): a
 * result copy stuck in a slow store (30 s per put) must not hold up the settling of jobs whose
 * callback was lost — their credits come back on the usual schedule. Asserted by order: the lost
 * job settles while the copy's put is still held.
 */
import { afterEach, expect, it } from "vitest";
import { startReconciler } from "@/lib/generation/reconciler";
import { StoreUnavailableError } from "@/lib/storage";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { type SlowStore, slowDown } from "../../helpers/slowStore";
import { backdate, eventually, jobRow, ledgerOf, settledRow, simTask, startJob } from "../jobs/jobKit";

describeEachDatabase("storage: copies into a slow store beside the jobs' sweep", (getDb) => {
  let h: Harness | undefined;
  let store: SlowStore | undefined;
  let reconciler: { stop: () => Promise<void> } | undefined;
  afterEach(async () => {
    store?.release();
    await reconciler?.stop();
    await h?.close();
    h = reconciler = store = undefined;
  });

  it("a lost-callback job is settled while a copy is stuck in a slow store", async () => {
    const harness = await startHarness({ database: getDb(), callbacks: true });
    h = harness;
    const { token } = await harness.signIn();

    // A: succeeds on KIE's URL while the store is down, so it waits for the images' loop.
    const { imageStore } = harness.app;
    const putFile = imageStore.putFile.bind(imageStore);
    let down = true;
    imageStore.putFile = (key, file, options) =>
      down ? Promise.reject(new StoreUnavailableError("put")) : putFile(key, file, options);
    const { taskId: copied } = await startJob(harness, token, "a result the store missed");
    expect(await settledRow(getDb(), copied)).toMatchObject({ status: "succeeded", imageStoredAt: null });
    down = false;
    store = slowDown(imageStore); // back, but 30 s per put

    reconciler = startReconciler(
      { jobs: harness.app.sweepJobs, images: harness.app.sweepImages },
      { everyMs: 100, logger: harness.app.logger },
    );
    await eventually(
      "the images' loop to be copying A",
      () => store?.pending,
      (pending) => pending === 1,
    );

    // B: refused by KIE, and its callback is lost: only the jobs' sweep can release its credits.
    const { taskId: lost } = await startJob(harness, token, "[sim:fail] [sim:callback=none] unheard refusal");
    await eventually(
      "KIE to refuse B",
      () => simTask(harness, lost),
      (task) => task.state === "fail",
    );
    await backdate(getDb(), (await jobRow(getDb(), lost)).id, 30);

    const settled = await settledRow(getDb(), lost, 200);
    store.events.push("B settled");
    expect(settled.status).toBe("failed");
    expect(store.events).toEqual(["put started", "B settled"]); // A's put is still held
    expect(await ledgerOf(getDb(), settled.id)).toEqual({ reserve: 1, release: 1 });

    store.release();
    const stored = await eventually(
      "A to be stored",
      () => jobRow(getDb(), copied),
      (row) => row.imageStoredAt !== null,
    );
    expect(await ledgerOf(getDb(), stored.id)).toEqual({ reserve: 1, capture: 1 });
  }, 120_000);
});
