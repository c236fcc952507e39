/**
 * A batch's uploaded images are stored once, under its first job, and every job of the batch names
 * them in its stored request (Run again, DESIGN.md §3). Deleting one job — the first included —
 * must not delete the inputs the others still need; deleting the last one removes them.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { generateJson, generateMultipart, kieWork, pngImage, waitFor } from "./generateKit";

interface Job {
  taskId: string;
  request: Record<string, unknown>;
}

describeEachDatabase("a batch's stored inputs and the deletion of its jobs", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: getDb() });
  });
  afterAll(async () => {
    await h?.close();
  });

  const remove = async (token: string, taskId: string) =>
    (await h.fetch(`/api/generations/${encodeURIComponent(taskId)}`, { method: "DELETE", token })).status;

  it("deleting the batch's first job keeps the inputs its other jobs run again with, also past the orphan sweep", async () => {
    const { token, userId } = await h.signIn();
    const form = new FormData();
    form.set("prompt", "two bowls of pears");
    form.set("n", "2");
    const png = new Uint8Array(await pngImage(40, 30, { r: 10, g: 120, b: 200 }));
    form.append("images", new Blob([png], { type: "image/png" }), "bowl.png");
    const first = await generateMultipart(h, form, { token, prefer: "wait" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const [one, two] = first.body.generations as Job[];
    await waitFor(
      async () => {
        const rows = await getDb().db.select().from(generations).where(eq(generations.userId, userId));
        return rows.some((row) => (row.inputImages?.length ?? 0) > 0);
      },
      { what: "the batch's input to be stored" },
    );
    const request = two?.request as Record<string, unknown>;
    expect(request.referenceImageIds).toHaveLength(1);

    expect(await remove(token, one?.taskId as string)).toBe(200);
    await h.app.resultImages.sweepOrphans({ graceMs: 0 });
    const before = kieWork(h);
    const again = await generateJson(h, request, { token, prefer: "wait" });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(kieWork(h).createTask - before.createTask).toBe(2);

    // The batch's last job gone, its inputs go too: a run again from its request is refused.
    expect(await remove(token, two?.taskId as string)).toBe(200);
    const refused = await generateJson(h, request, { token, prefer: "wait" });
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(refused.body.error.message).toContain("no longer stored");
  });
});
