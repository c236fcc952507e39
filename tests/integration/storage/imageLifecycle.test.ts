/**
 * The life of stored images after settlement (DESIGN.md §9): the owner's DELETE removes the files
 * (the ledger keeps its rows), IMAGE_RETENTION_DAYS prunes old ones through the reconciler, and
 * the orphan sweep removes files nothing refers to.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import sharp from "sharp";
import { expect, it } from "vitest";
import { generations } from "@/lib/db";
import { resultKey, thumbnailKey } from "@/lib/storage";
import { type Harness, useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { eventually, jobRow, ledgerOf } from "../jobs/jobKit";

async function generate(h: Harness, token: string, prompt: string) {
  const response = await h.fetch("/api/generate", {
    method: "POST",
    token,
    headers: { "content-type": "application/json", prefer: "wait" },
    body: JSON.stringify({ prompt }),
  });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body as { taskId: string; imageUrl: string; thumbnailUrl: string };
}

async function keys(h: Harness): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of h.app.imageStore.list("results/")) found.push(entry.key);
  return found.sort();
}

const link = (h: Harness, url: string) => {
  const parsed = new URL(url, "http://localhost");
  return h.fetch(`${parsed.pathname}${parsed.search}`);
};

describeEachDatabase("stored images: delete, retention, orphans", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    env: { IMAGE_RETENTION_DAYS: "7", RATE_LIMIT_PER_MINUTE: "1000" },
  }));

  it("DELETE /api/generations/:taskId removes the owner's files and the job from their history", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const job = await generate(h, owner.token, "a banana to delete");
    const row = await jobRow(getDb(), job.taskId);
    expect(await keys(h)).toContain(row.imageKey);

    const refused = await h.fetch(`/api/generations/${job.taskId}`, { method: "DELETE", token: other.token });
    expect(refused.status).toBe(404);
    expect((await link(h, job.imageUrl)).status).toBe(200);

    const deleted = await h.fetch(`/api/generations/${job.taskId}`, { method: "DELETE", token: owner.token });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ success: true, taskId: job.taskId, deleted: true });

    expect(await keys(h)).not.toContain(row.imageKey);
    expect(await keys(h)).not.toContain(row.imageThumbKey);
    expect((await link(h, job.imageUrl)).status).toBe(404);
    expect((await link(h, job.thumbnailUrl)).status).toBe(404);
    expect((await h.fetch(`/api/generate/${job.taskId}`, { token: owner.token })).status).toBe(404);
    const history = await (await h.fetch("/api/generations", { token: owner.token })).json();
    expect(history.generations).toEqual([]);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    // Deleting again: nothing left to delete.
    expect(
      (await h.fetch(`/api/generations/${job.taskId}`, { method: "DELETE", token: owner.token })).status,
    ).toBe(404);
  });

  it("an edit's uploaded inputs are stored under the job, and deleted with it", async () => {
    const owner = await h.signIn();
    const input = await sharp({ create: { width: 40, height: 30, channels: 3, background: "#3366ff" } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.set("prompt", "make it yellow");
    form.append("images", new Blob([new Uint8Array(input)], { type: "image/png" }), "input.png");
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token: owner.token,
      headers: { prefer: "wait" },
      body: form,
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    // Copied in the background (createTask does not wait for it): stored soon after.
    const row = await eventually(
      "the inputs to be stored",
      () => jobRow(getDb(), body.taskId),
      (job) => (job.inputImages?.length ?? 0) > 0,
    );
    expect(row.inputImages).toEqual([
      {
        key: `inputs/${row.id}/0.png`,
        type: "image/png",
        bytes: input.byteLength,
        sha256: createHash("sha256").update(input).digest("hex"),
      },
    ]);
    const stored = await h.app.imageStore.get(`inputs/${row.id}/0.png`);
    expect(stored?.size).toBe(input.byteLength);
    stored?.body.destroy();
    await h.fetch(`/api/generations/${body.taskId}`, { method: "DELETE", token: owner.token });
    expect(await h.app.imageStore.get(`inputs/${row.id}/0.png`)).toBeUndefined();
  });

  it("a job still running cannot be deleted (400); no token is 401", async () => {
    const owner = await h.signIn();
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token: owner.token,
      headers: { "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ prompt: "[sim:never] a banana still cooking" }),
    });
    const { taskId } = await response.json();
    const refused = await h.fetch(`/api/generations/${taskId}`, { method: "DELETE", token: owner.token });
    expect(refused.status).toBe(400);
    expect((await h.fetch(`/api/generations/${taskId}`, { method: "DELETE" })).status).toBe(401);
  });

  it("IMAGE_RETENTION_DAYS: the reconciler deletes images of jobs settled longer ago, keeps the job", async () => {
    const owner = await h.signIn();
    const old = await generate(h, owner.token, "an old banana");
    const recent = await generate(h, owner.token, "a recent banana");
    const oldRow = await jobRow(getDb(), old.taskId);
    await getDb()
      .db.update(generations)
      .set({ settledAt: sql`now() - interval '8 days'` })
      .where(eq(generations.id, oldRow.id));

    const swept = await h.app.sweep();
    expect(swept.imagesPruned).toBe(1);
    const remaining = await keys(h);
    expect(remaining).not.toContain(oldRow.imageKey);
    expect(remaining).toContain((await jobRow(getDb(), recent.taskId)).imageKey);
    expect((await link(h, old.imageUrl)).status).toBe(404);
    expect((await link(h, recent.imageUrl)).status).toBe(200);
    // The job stays in history, without an image.
    const status = await (await h.fetch(`/api/generate/${old.taskId}`, { token: owner.token })).json();
    expect(status.status).toBe("succeeded");
    expect(status.imageUrl).toBeUndefined();
  });

  it("the orphan sweep removes files no job refers to, and keeps the ones in use", async () => {
    const owner = await h.signIn();
    const kept = await generate(h, owner.token, "a banana in use");
    const keptRow = await jobRow(getDb(), kept.taskId);
    const stranger = randomUUID();
    await h.app.imageStore.put(resultKey(stranger, "image/png"), randomBytes(100), {
      contentType: "image/png",
    });
    await h.app.imageStore.put(thumbnailKey(stranger), randomBytes(50), { contentType: "image/webp" });
    // A copy of a job whose row never recorded it (a crash between the put and the settlement).
    await h.app.imageStore.put(resultKey(keptRow.id, "image/jpeg"), randomBytes(100), {
      contentType: "image/jpeg",
    });

    // Earlier tests' files are orphans too now (their rows were truncated away).
    const before = await keys(h);
    const { orphans } = await h.app.resultImages.sweepOrphans({ graceMs: 0 });
    expect(orphans).toBe(before.length - 2);
    expect(orphans).toBeGreaterThanOrEqual(3);
    expect(await keys(h)).toEqual([keptRow.imageKey, keptRow.imageThumbKey].sort());
    expect((await link(h, kept.imageUrl)).status).toBe(200);
  });
});
