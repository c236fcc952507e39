/**
 * lib/db/generations.ts, what the job keeps of KIE's side (issues 23 and 25): when KIE got the
 * task, createTask's warnings before the result's, what KIE says it cost, and the job's edits.
 */
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { ensureAccount, reserve } from "@/lib/credits";
import { type Generation, generations } from "@/lib/db";
import {
  addTaskWarnings,
  attachKieTask,
  claimStaleGenerations,
  findBatch,
  findChildren,
  findGeneration,
  findUserGeneration,
  insertGeneration,
  recordKieCredits,
} from "@/lib/db/generations";
import { settle } from "@/lib/generation/settle";
import { describeEachDatabase } from "@/tests/helpers/database";

const SECOND = 1000;

describeEachDatabase("generation statements: KIE's side of a job", (getDb) => {
  const db = () => getDb().db;

  async function job(
    options: {
      userId?: string;
      ageMs?: number;
      parentId?: string;
      status?: "queued";
      batch?: { id: string; index: number };
    } = {},
  ) {
    const userId = options.userId ?? "u1";
    await ensureAccount(db(), userId, { initialCredits: 10 });
    const row = await insertGeneration(db(), {
      userId,
      type: options.parentId ? "image_edit" : "text_to_image",
      model: "google/nano-banana",
      prompt: "a banana",
      cost: 1,
      createdAt: new Date(Date.now() - (options.ageMs ?? 0)),
      parentId: options.parentId,
      status: options.status,
      batchId: options.batch?.id,
      params: options.batch ? { batchIndex: options.batch.index } : {},
    });
    await reserve(db(), { userId, cost: row.cost, generationId: row.id });
    return row;
  }
  const read = async (id: string) => (await findGeneration(db(), id)) as Generation;

  it("attachKieTask records when KIE got the task, and createTask's warnings only when there are some", async () => {
    const quiet = await job();
    expect(await attachKieTask(db(), quiet.id, "task-quiet")).toBe(true);
    const attached = await read(quiet.id);
    expect(attached.warnings).toBeNull();
    expect(attached.submittedAt?.getTime()).toBeGreaterThan(Date.now() - 60 * SECOND);
    const empty = await job();
    expect(await attachKieTask(db(), empty.id, "task-empty", [])).toBe(true);
    expect((await read(empty.id)).warnings).toBeNull();

    const warned = await job();
    await attachKieTask(db(), warned.id, "task-warned", ["aspect_ratio: 5:4 sent as 4:5"]);
    expect((await read(warned.id)).warnings).toEqual(["aspect_ratio: 5:4 sent as 4:5"]);
    // The result's warnings come after createTask's, neither replacing the other.
    const settled = await settle(
      db(),
      warned.id,
      { status: "succeeded", resultUrls: ["https://x/a.png"], warnings: ["thumbnail: slow"] },
      { notify: false },
    );
    expect(settled?.warnings).toEqual(["aspect_ratio: 5:4 sent as 4:5", "thumbnail: slow"]);
  });

  it("addTaskWarnings adds createTask's warnings to the job of that task once, after those it has", async () => {
    const { id } = await job();
    await attachKieTask(db(), id, "task-cb");
    await addTaskWarnings(db(), id, "task-cb", []);
    expect((await read(id)).warnings).toBeNull();
    await addTaskWarnings(db(), id, "task-other", ["aspect_ratio: 5:4 sent as 4:5"]);
    expect((await read(id)).warnings).toBeNull();
    await addTaskWarnings(db(), id, "task-cb", ["aspect_ratio: 5:4 sent as 4:5"]);
    // A retry after a write that did land adds nothing twice.
    await addTaskWarnings(db(), id, "task-cb", ["aspect_ratio: 5:4 sent as 4:5"]);
    expect((await read(id)).warnings).toEqual(["aspect_ratio: 5:4 sent as 4:5"]);
    await addTaskWarnings(db(), id, "task-cb", ["resolution: 4K sent as 2K"]);
    expect((await read(id)).warnings).toEqual(["aspect_ratio: 5:4 sent as 4:5", "resolution: 4K sent as 2K"]);
  });

  it("a job that waited in line is stale by when KIE got it, not by when it was queued", async () => {
    const queuedLongAgo = await job({ ageMs: 120 * SECOND });
    await attachKieTask(db(), queuedLongAgo.id, "task-late");
    const options = { limit: 10, minAgeMs: 20 * SECOND, intervalMs: 0 };
    expect(await claimStaleGenerations(db(), options)).toEqual([]);
    await db()
      .update(generations)
      .set({ submittedAt: new Date(Date.now() - 30 * SECOND) })
      .where(eq(generations.id, queuedLongAgo.id));
    expect((await claimStaleGenerations(db(), options)).map((row) => row.id)).toEqual([queuedLongAgo.id]);
  });

  it("a job still in line is the drain's until it is timeoutMs old (milliseconds), then a sweep takes it", async () => {
    const young = await job({ status: "queued", ageMs: 10 * SECOND });
    const old = await job({ status: "queued", ageMs: 40 * SECOND });
    const options = { limit: 10, minAgeMs: 5 * SECOND, intervalMs: 0 };
    expect(await claimStaleGenerations(db(), options)).toEqual([]);
    const claimed = await claimStaleGenerations(db(), { ...options, timeoutMs: 30 * SECOND });
    expect(claimed.map((row) => row.id)).toEqual([old.id]);
    expect((await read(young.id)).refreshedAt).toBeNull();
  });

  it("recordKieCredits writes what KIE says the task cost, says whether it changed, and still after settlement", async () => {
    const { id } = await job();
    expect(await recordKieCredits(db(), id, 8)).toBe(true);
    expect((await read(id)).kieCreditsConsumed).toBe(8);
    expect(await recordKieCredits(db(), id, 8)).toBe(false);
    await settle(db(), id, { status: "succeeded", resultUrls: ["https://x/a.png"] }, { notify: false });
    expect(await recordKieCredits(db(), id, 12)).toBe(true);
    expect((await read(id)).kieCreditsConsumed).toBe(12);
    expect(await recordKieCredits(db(), "00000000-0000-4000-8000-000000000000", 3)).toBe(false);
  });

  it("findChildren lists the user's own edits of a job, oldest first, without deleted ones", async () => {
    const parent = await job({ ageMs: 60 * SECOND });
    const second = await job({ ageMs: 10 * SECOND, parentId: parent.id });
    const first = await job({ ageMs: 20 * SECOND, parentId: parent.id });
    const deleted = await job({ ageMs: 15 * SECOND, parentId: parent.id });
    await db().update(generations).set({ deletedAt: new Date() }).where(eq(generations.id, deleted.id));
    await job({ userId: "u2", parentId: parent.id });
    await job({ ageMs: 5 * SECOND }); // not an edit

    expect((await findChildren(db(), "u1", parent.id)).map((row) => row.id)).toEqual([first.id, second.id]);
    expect(await findChildren(db(), "u1", second.id)).toEqual([]);
    expect(await findChildren(db(), "u3", parent.id)).toEqual([]);
  });

  it("findBatch lists the user's jobs of one batch in the order they were asked for, without deleted ones", async () => {
    const batchId = "6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b";
    // Inserted out of order: the batch's order is its jobs' batchIndex, not the rows' order.
    const third = await job({ batch: { id: batchId, index: 2 } });
    const first = await job({ batch: { id: batchId, index: 0 } });
    const fourth = await job({ batch: { id: batchId, index: 3 } });
    const second = await job({ batch: { id: batchId, index: 1 } });
    await db().update(generations).set({ deletedAt: new Date() }).where(eq(generations.id, fourth.id));
    await job({ userId: "u2", batch: { id: batchId, index: 0 } });
    await job(); // not in a batch

    expect((await findBatch(db(), "u1", batchId)).map((row) => row.id)).toEqual([
      first.id,
      second.id,
      third.id,
    ]);
    expect(await findBatch(db(), "u3", batchId)).toEqual([]);
    expect(await findBatch(db(), "u1", "00000000-0000-4000-8000-000000000000")).toEqual([]);
  });

  it("findUserGeneration: a task id holding a NUL character finds nothing (no query error)", async () => {
    const row = await job();
    await attachKieTask(db(), row.id, "task-nul");
    expect((await findUserGeneration(db(), "u1", "task-nul"))?.id).toBe(row.id);
    expect(await findUserGeneration(db(), "u1", "task-nul\u0000")).toBeUndefined();
    expect(await findUserGeneration(db(), "u1", `${row.id}\u0000`)).toBeUndefined();
  });
});
