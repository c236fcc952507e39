/**
 * lib/db/generations.ts statement by statement (DESIGN.md §4, §5): what each one does when it is
 * allowed to act. tests/integration/db/guards.test.ts holds the refusals.
 */
import { eq, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { balance, ensureAccount, reserve } from "@/lib/credits";
import { creditLedger, type Generation, generations } from "@/lib/db";
import {
  attachKieTask,
  attachLateResult,
  claimRefreshLease,
  claimStaleGenerations,
  findGeneration,
  findUserGeneration,
  insertGeneration,
  isUuid,
  listUserGenerations,
  markProcessing,
} from "@/lib/db/generations";
import { settle } from "@/lib/generation/settle";
import { describeEachDatabase } from "@/tests/helpers/database";

const SECOND = 1000;

describeEachDatabase("generation statements", (getDb) => {
  const db = () => getDb().db;

  /** A job of u1, created `ageMs` ago (and refreshed `refreshedAgoMs` ago when given), with its reserve. */
  async function job(options: { ageMs?: number; refreshedAgoMs?: number; cost?: number } = {}) {
    await ensureAccount(db(), "u1", { initialCredits: 10 });
    const row = await insertGeneration(db(), {
      userId: "u1",
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a banana",
      cost: options.cost ?? 1,
      createdAt: new Date(Date.now() - (options.ageMs ?? 0)),
      refreshedAt:
        options.refreshedAgoMs === undefined ? undefined : new Date(Date.now() - options.refreshedAgoMs),
    });
    await reserve(db(), { userId: "u1", cost: row.cost, generationId: row.id });
    return row;
  }
  const read = async (id: string) => (await findGeneration(db(), id)) as Generation;

  it("attachKieTask binds the first KIE task, and only that one (gap 6)", async () => {
    const { id } = await job();
    expect(await attachKieTask(db(), id, "task-1")).toBe(true);
    expect(await attachKieTask(db(), id, "task-2")).toBe(false);
    expect((await read(id)).kieTaskId).toBe("task-1");
    // A second job can have its own task, and a task id names one job only.
    const other = await job();
    expect(await attachKieTask(db(), other.id, "task-3")).toBe(true);
    await expect(attachKieTask(db(), (await job()).id, "task-3")).rejects.toThrow();
  });

  it("markProcessing moves a pending job on, and leaves a settled one alone (gap 7)", async () => {
    const pending = await job();
    await markProcessing(db(), pending.id);
    expect((await read(pending.id)).status).toBe("processing");

    const settled = await job();
    await settle(db(), settled.id, { status: "failed", errorCode: "x" }, { notify: false });
    await markProcessing(db(), settled.id);
    expect(await read(settled.id)).toMatchObject({ status: "failed", errorCode: "x" });
  });

  it("claimRefreshLease counts its interval in milliseconds (gap 7)", async () => {
    const { id } = await job({ refreshedAgoMs: 3 * SECOND });
    expect(await claimRefreshLease(db(), id, 10 * SECOND)).toBe(false); // refreshed 3 s ago < 10 s
    expect(await claimRefreshLease(db(), id, 2 * SECOND)).toBe(true); // 3 s ago > 2 s
    expect(await claimRefreshLease(db(), id, 2 * SECOND)).toBe(false); // just renewed
    const fresh = await job();
    expect(await claimRefreshLease(db(), fresh.id, 60 * SECOND)).toBe(true); // never refreshed
    const processing = await job({ refreshedAgoMs: 60 * SECOND });
    await markProcessing(db(), processing.id);
    expect(await claimRefreshLease(db(), processing.id, SECOND)).toBe(true);
  });

  it("claimStaleGenerations takes the oldest `limit` jobs past minAge and the interval (gap 7)", async () => {
    const oldest = await job({ ageMs: 50 * SECOND });
    const older = await job({ ageMs: 40 * SECOND });
    const old = await job({ ageMs: 30 * SECOND });
    await job({ ageMs: 5 * SECOND }); // too young for minAge 20 s
    const recentlyRefreshed = await job({ ageMs: 60 * SECOND, refreshedAgoMs: 2 * SECOND });
    const longAgoRefreshed = await job({ ageMs: 45 * SECOND, refreshedAgoMs: 30 * SECOND });

    const options = { minAgeMs: 20 * SECOND, intervalMs: 10 * SECOND };
    const first = await claimStaleGenerations(db(), { ...options, limit: 2 });
    expect(first.map((row) => row.id)).toEqual(expect.arrayContaining([oldest.id, longAgoRefreshed.id]));
    expect(first).toHaveLength(2);
    // The claim is the refresh lease: the same jobs are not claimed again within the interval.
    for (const row of first) expect(row.refreshedAt?.getTime()).toBeGreaterThan(Date.now() - 5 * SECOND);
    const second = await claimStaleGenerations(db(), { ...options, limit: 10 });
    expect(second.map((row) => row.id).sort()).toEqual([older.id, old.id].sort());
    expect(await claimStaleGenerations(db(), { ...options, limit: 10 })).toEqual([]);
    expect((await read(recentlyRefreshed.id)).refreshedAt?.getTime()).toBeLessThan(Date.now() - SECOND);
  });

  it("claimStaleGenerations counts minAge in milliseconds", async () => {
    const { id } = await job({ ageMs: 3 * SECOND });
    expect(await claimStaleGenerations(db(), { limit: 5, minAgeMs: 10 * SECOND, intervalMs: 0 })).toEqual([]);
    const claimed = await claimStaleGenerations(db(), { limit: 5, minAgeMs: 2 * SECOND, intervalMs: 0 });
    expect(claimed.map((row) => row.id)).toEqual([id]);
  });

  it("settle captures a success and releases anything else, once", async () => {
    const won = await job({ cost: 2 });
    const settled = await settle(
      db(),
      won.id,
      { status: "succeeded", resultUrls: ["https://x/a.png"] },
      { notify: false },
    );
    expect(settled).toMatchObject({ id: won.id, status: "succeeded", resultUrls: ["https://x/a.png"] });
    expect(settled?.errorCode).toBeNull();
    expect(settled?.settledAt).toBeInstanceOf(Date);
    expect(await balance(db(), "u1")).toBe(8);

    for (const status of ["failed", "timeout"] as const) {
      const lost = await job({ cost: 3 });
      const row = await settle(
        db(),
        lost.id,
        { status, errorCode: "upstream_error", errorMessage: "no" },
        { notify: false },
      );
      expect(row).toMatchObject({
        status,
        errorCode: "upstream_error",
        errorMessage: "no",
        resultUrls: null,
      });
      expect(await balance(db(), "u1")).toBe(8);
    }
    const kinds = await db()
      .select({ kind: creditLedger.kind, id: creditLedger.generationId })
      .from(creditLedger)
      .where(eq(creditLedger.generationId, won.id));
    expect(kinds.map((k) => k.kind).sort()).toEqual(["capture", "reserve"]);
  });

  it("settle announces the settled job when asked", async () => {
    const database = getDb();
    const heard: string[] = [];
    let stop: () => Promise<void>;
    if (database.kind === "pglite") {
      stop = await database.client.listen("nano_banana_job_settled", (payload) => void heard.push(payload));
    } else {
      const client = await database.pool.connect();
      client.on("notification", (message) => heard.push(message.payload ?? ""));
      await client.query("LISTEN nano_banana_job_settled");
      stop = async () => {
        await client.query("UNLISTEN *");
        client.release();
      };
    }
    try {
      const quiet = await job();
      await settle(db(), quiet.id, { status: "failed" }, { notify: false });
      const loud = await job();
      await settle(db(), loud.id, { status: "failed" }, { notify: true });
      const heardAll = async (n: number) => {
        const deadline = Date.now() + 5 * SECOND;
        while (heard.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      };
      await heardAll(1);
      expect(heard).toEqual([loud.id]);
      // A job already settled is not settled again, so nothing is announced (nor captured).
      expect(await settle(db(), loud.id, { status: "succeeded" }, { notify: true })).toBeUndefined();
      const next = await job();
      await settle(db(), next.id, { status: "failed" }, { notify: true });
      await heardAll(2);
      expect(heard).toEqual([loud.id, next.id]);
      expect(await balance(db(), "u1")).toBe(10);
    } finally {
      await stop();
    }
  });

  it("settle stores the copied image and the warnings it is given, and no empty warnings", async () => {
    const image = {
      key: "images/a.png",
      thumbKey: "thumbs/a.webp",
      bytes: 1234,
      type: "image/png",
      width: 1024,
      height: 768,
      sha256: "ab".repeat(32),
    };
    const stored = await job();
    const row = await settle(
      db(),
      stored.id,
      { status: "succeeded", resultUrls: ["https://x/a.png"], image, warnings: ["thumbnail: slow"] },
      { notify: false },
    );
    const expected = {
      imageKey: "images/a.png",
      imageThumbKey: "thumbs/a.webp",
      imageBytes: 1234,
      imageType: "image/png",
      imageWidth: 1024,
      imageHeight: 768,
      imageSha256: "ab".repeat(32),
      warnings: ["thumbnail: slow"],
    };
    expect(row).toMatchObject(expected);
    expect(row?.imageStoredAt).toBeInstanceOf(Date);
    expect(await read(stored.id)).toMatchObject(expected);

    const plain = await job();
    const bare = await settle(
      db(),
      plain.id,
      { status: "succeeded", resultUrls: ["https://x/b.png"], warnings: [] },
      { notify: false },
    );
    expect(bare).toMatchObject({ imageKey: null, imageStoredAt: null, warnings: null });
    expect(await read(plain.id)).toMatchObject({ imageKey: null, imageStoredAt: null, warnings: null });
  });

  it("claimStaleGenerations for one user claims only that user's jobs", async () => {
    const mine = await job({ ageMs: 60 * SECOND });
    await ensureAccount(db(), "u2", { initialCredits: 10 });
    const theirs = await insertGeneration(db(), {
      userId: "u2",
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a pear",
      cost: 1,
      createdAt: new Date(Date.now() - 90 * SECOND),
    });
    const options = { limit: 10, minAgeMs: 10 * SECOND, intervalMs: 0 };
    const claimed = await claimStaleGenerations(db(), { ...options, userId: "u1" });
    expect(claimed.map((row) => row.id)).toEqual([mine.id]);
    expect((await read(theirs.id)).refreshedAt).toBeNull();
    const all = await claimStaleGenerations(db(), { ...options, intervalMs: 60 * SECOND });
    expect(all.map((row) => row.id)).toEqual([theirs.id]);
  });

  it("listUserGenerations pages a user's own jobs newest first, without deleted ones", async () => {
    const oldest = await job({ ageMs: 40 * SECOND });
    const deleted = await job({ ageMs: 30 * SECOND });
    const middle = await job({ ageMs: 20 * SECOND });
    const newest = await job({ ageMs: 10 * SECOND });
    await db().update(generations).set({ deletedAt: new Date() }).where(eq(generations.id, deleted.id));
    await ensureAccount(db(), "u2", { initialCredits: 10 });
    await insertGeneration(db(), {
      userId: "u2",
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a pear",
      cost: 1,
    });

    const ids = (rows: Generation[]) => rows.map((row) => row.id);
    expect(ids(await listUserGenerations(db(), "u1", { limit: 10 }))).toEqual([
      newest.id,
      middle.id,
      oldest.id,
    ]);
    const first = await listUserGenerations(db(), "u1", { limit: 2 });
    expect(ids(first)).toEqual([newest.id, middle.id]);
    const second = await listUserGenerations(db(), "u1", { limit: 2, cursor: { id: middle.id } });
    expect(ids(second)).toEqual([oldest.id]);
    expect(await listUserGenerations(db(), "u1", { limit: 2, cursor: { id: oldest.id } })).toEqual([]);
    expect(await listUserGenerations(db(), "u3", { limit: 10 })).toEqual([]);
  });

  it("attachLateResult keeps a late image on a timed-out job (gap 10)", async () => {
    const { id } = await job();
    await settle(db(), id, { status: "timeout" }, { notify: false });
    expect(await attachLateResult(db(), id, ["https://x/late.png"])).toBe(true);
    expect(await attachLateResult(db(), id, ["https://x/other.png"])).toBe(false);
    expect(await read(id)).toMatchObject({ status: "timeout", resultUrls: ["https://x/late.png"] });
    expect(await balance(db(), "u1")).toBe(10); // never charged
  });

  it("findUserGeneration finds a user's job by our id or KIE's, never someone else's (gap 10)", async () => {
    const mine = await job();
    await attachKieTask(db(), mine.id, "kie-task-1");
    await ensureAccount(db(), "u2", { initialCredits: 1 });
    expect((await findUserGeneration(db(), "u1", mine.id))?.id).toBe(mine.id);
    expect((await findUserGeneration(db(), "u1", mine.id.toUpperCase()))?.id).toBe(mine.id);
    expect((await findUserGeneration(db(), "u1", "kie-task-1"))?.id).toBe(mine.id);
    expect(await findUserGeneration(db(), "u2", mine.id)).toBeUndefined();
    expect(await findUserGeneration(db(), "u2", "kie-task-1")).toBeUndefined();
    // Not a UUID: looked up as a KIE task id only (a uuid cast would fail the query).
    expect(await findUserGeneration(db(), "u1", `${mine.id}x`)).toBeUndefined();
    expect(await findUserGeneration(db(), "u1", `x${mine.id}`)).toBeUndefined();
  });

  it("a KIE task id shaped like a UUID still finds its job", async () => {
    const mine = await job();
    const kieId = "0f0e0d0c-0b0a-4908-8706-050403020100";
    await attachKieTask(db(), mine.id, kieId);
    expect((await findUserGeneration(db(), "u1", kieId))?.id).toBe(mine.id);
    const [row] = await db().select({ n: sql<number>`count(*)::int` }).from(generations);
    expect(row?.n).toBe(1);
  });
});

it("isUuid accepts exactly a UUID, in either case (gap 10)", () => {
  const id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  expect(isUuid(id)).toBe(true);
  expect(isUuid(id.toUpperCase())).toBe(true);
  for (const bad of [
    `${id}0`,
    `0${id}`,
    `${id}\n`,
    ` ${id}`,
    id.slice(1),
    id.replace(/-/g, ""),
    `${id.slice(0, -1)}g`,
  ]) {
    expect(isUuid(bad)).toBe(false);
  }
});
