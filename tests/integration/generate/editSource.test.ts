/**
 * Issue 25 part 2, edits as a tree: `sourceTaskId` edits one of the user's own results without
 * uploading it again — its stored image is what KIE is given — and the new job records its
 * parent; GET /api/generations/:taskId shows the job with its parent and children. Another
 * user's task is 404 and a job without an image 400, nothing charged and nothing sent to KIE.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { type Answer, creditsOf, generateJson, kieInputOf, kieWork } from "./generateKit";

const SIM_PUBLIC_BASE = "https://kie-sim.test";

describeEachDatabase("POST /api/generate with sourceTaskId: edits as a tree", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: getDb(), sim: { publicUrl: SIM_PUBLIC_BASE, ownResultUrls: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const generate = (token: string, body: Record<string, unknown>, idempotencyKey?: string) =>
    generateJson(h, body, { token, prefer: "wait", idempotencyKey });

  async function detail(token: string, taskId: string): Promise<Answer> {
    const response = await h.fetch(`/api/generations/${encodeURIComponent(taskId)}`, { token });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  /** The bytes of a job's image as its owner downloads them. */
  async function imageOf(token: string, imageUrl: string): Promise<Buffer> {
    const response = await h.fetch(
      new URL(imageUrl, "http://x").pathname + new URL(imageUrl, "http://x").search,
      {
        token,
      },
    );
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  /** The bytes KIE was given behind one of the sim's public upload URLs. */
  async function bytesBehind(publicUrl: string): Promise<Buffer> {
    const response = await fetch(publicUrl.replace(SIM_PUBLIC_BASE, h.sim.url));
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  it("edits my result without an upload: KIE gets its image, the edit records its parent, the tree reads back", async () => {
    const { token } = await h.signIn();
    const original = await generate(token, { prompt: "a banana on a table" });
    expect(original.status, JSON.stringify(original.body)).toBe(200);
    const before = kieWork(h);

    const edit = await generate(token, { prompt: "make it blue", sourceTaskId: original.body.taskId });
    expect(edit.status, JSON.stringify(edit.body)).toBe(200);
    expect(edit.body).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 8 });
    expect(kieWork(h).uploads - before.uploads).toBe(1);
    const { model, input } = kieInputOf(h, edit.body.taskId);
    expect(model).toBe("google/nano-banana-edit");
    const urls = input.image_urls as string[];
    expect(urls).toHaveLength(1);
    // KIE was given the very image the user sees as the original's result.
    expect((await bytesBehind(urls[0]!)).equals(await imageOf(token, original.body.imageUrl))).toBe(true);

    // Edit again, and branch from the original a second time.
    const again = await generate(token, { prompt: "now green", sourceTaskId: edit.body.taskId });
    const branch = await generate(token, { prompt: "make it red", sourceTaskId: original.body.taskId });
    expect([again.status, branch.status]).toEqual([200, 200]);

    const root = await detail(token, original.body.taskId);
    expect(root.status).toBe(200);
    expect(root.body.parent).toBeNull();
    expect(root.body.children.map((c: { taskId: string }) => c.taskId)).toEqual([
      edit.body.taskId,
      branch.body.taskId,
    ]);
    const middle = await detail(token, edit.body.taskId);
    expect(middle.body.generation).toMatchObject({
      taskId: edit.body.taskId,
      parentTaskId: original.body.taskId,
    });
    expect(middle.body.parent.taskId).toBe(original.body.taskId);
    expect(middle.body.children.map((c: { taskId: string }) => c.taskId)).toEqual([again.body.taskId]);
    // The status route and history show the parent too.
    const listed = await h.fetch("/api/generations", { token });
    const history = (await listed.json()) as { generations: { taskId: string; parentTaskId?: string }[] };
    expect(history.generations.find((g) => g.taskId === again.body.taskId)?.parentTaskId).toBe(
      edit.body.taskId,
    );
  });

  it("with another user's task, a job without an image, or an unknown id: refused, nothing charged or sent", async () => {
    const owner = await h.signIn();
    const theirs = await generate(owner.token, { prompt: "their banana" });
    const failed = await generate(owner.token, { prompt: "refused [sim:fail]" });
    const failedTaskId: string = failed.body.error?.taskId;
    expect((await detail(owner.token, failedTaskId)).body.generation.status).toBe("failed");

    const intruder = await h.signIn();
    const before = kieWork(h);
    const stolen = await generate(intruder.token, { prompt: "mine now", sourceTaskId: theirs.body.taskId });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error).toMatchObject({ code: "not_found" });
    const unknown = await generate(intruder.token, { prompt: "x", sourceTaskId: "no-such-task" });
    expect(unknown.status).toBe(404);
    expect(await creditsOf(h, intruder.token)).toBe(10);
    expect((await detail(intruder.token, theirs.body.taskId)).status).toBe(404);

    const noImage = await generate(owner.token, {
      prompt: "edit a failure",
      sourceTaskId: failedTaskId,
    });
    expect(noImage.status, JSON.stringify(noImage.body)).toBe(400);
    expect(noImage.body.error.message).toContain("sourceTaskId");
    expect(await creditsOf(h, owner.token)).toBe(9);
    expect(kieWork(h)).toEqual(before);
  });

  it("counts toward the image limit, and a retry with the same Idempotency-Key answers the same edit", async () => {
    const { token } = await h.signIn();
    const original = await generate(token, { prompt: "a pear" });
    const five = Array.from({ length: 5 }, (_, i) => `https://images.example/${i}.png`);
    const tooMany = await generate(token, {
      prompt: "six",
      sourceTaskId: original.body.taskId,
      images: five,
    });
    expect(tooMany.status).toBe(400);

    const body = { prompt: "a pear, sliced", sourceTaskId: original.body.taskId };
    const first = await generate(token, body, "edit-key-1");
    const retry = await generate(token, body, "edit-key-1");
    expect(retry.body.taskId).toBe(first.body.taskId);
    expect(await creditsOf(h, token)).toBe(8);
  });

  it("a timed-out job KIE delivered late is a source only once its image is in our store", async () => {
    const { token } = await h.signIn();
    const late = await generate(token, { prompt: "a late banana" });
    expect(late.status).toBe(200);
    // As the reconciler leaves a job KIE finished after KIE_TIMEOUT_MS: timeout (credits released)
    // with the free late image on it — first not yet copied into our store, then copied.
    const db = getDb().db;
    const [row] = await db.select().from(generations).where(eq(generations.kieTaskId, late.body.taskId));
    const storedAt = row?.imageStoredAt;
    expect(storedAt).toBeTruthy();
    await db
      .update(generations)
      .set({ status: "timeout", imageStoredAt: null })
      .where(eq(generations.kieTaskId, late.body.taskId));
    const before = kieWork(h);
    const notStored = await generate(token, { prompt: "edit it", sourceTaskId: late.body.taskId });
    expect(notStored.status, JSON.stringify(notStored.body)).toBe(400);
    expect(notStored.body.error.message).toContain("no image to edit");
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(9);

    await db
      .update(generations)
      .set({ imageStoredAt: storedAt as Date })
      .where(eq(generations.kieTaskId, late.body.taskId));
    const stored = await generate(token, { prompt: "edit it", sourceTaskId: late.body.taskId });
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    expect(stored.body.creditsUsed).toBe(1);
    expect(kieInputOf(h, stored.body.taskId).input.image_urls).toHaveLength(1);
  });
});
