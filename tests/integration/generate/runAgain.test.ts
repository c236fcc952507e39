/**
 * Issue 25 item 3, run again exactly: every job stores what it was asked as a POST /api/generate
 * body (`request` in its view) — model, ratio, resolution, format, options, URLs, the edited job,
 * and uploaded references by the ids of their stored copies — so POSTing it again makes the same
 * KIE request without an upload. Another user's stored reference is 404, nothing charged or sent.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  type Answer,
  creditsOf,
  dataUri,
  generateJson,
  generateMultipart,
  kieInputOf,
  kieWork,
  pngImage,
  waitFor,
} from "./generateKit";

const SIM_PUBLIC_BASE = "https://kie-sim.test";

describeEachDatabase("run again: the stored request, asked again", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: getDb(), sim: { publicUrl: SIM_PUBLIC_BASE, ownResultUrls: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function detail(token: string, taskId: string): Promise<Answer> {
    const response = await h.fetch(`/api/generations/${encodeURIComponent(taskId)}`, { token });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }

  /** The bytes KIE was given behind each of a task's image URLs. */
  async function imagesKieGot(taskId: string): Promise<string[]> {
    const { input } = kieInputOf(h, taskId);
    const urls = (input.image_urls ?? input.image_input) as string[];
    return Promise.all(
      urls.map(async (url) => {
        const response = await fetch(url.replace(SIM_PUBLIC_BASE, h.sim.url));
        return Buffer.from(await response.arrayBuffer()).toString("base64");
      }),
    );
  }

  it("an edit with uploads, asked again from its stored request: the same KIE request, no upload", async () => {
    const { token } = await h.signIn();
    const original = await generateJson(h, { prompt: "a green pear" }, { token, prefer: "wait" });
    const form = new FormData();
    form.set("prompt", "put the pear in this bowl");
    form.set("model", "nano-banana-2-1");
    form.set("aspectRatio", "3:2");
    form.set("resolution", "1K");
    form.set("outputFormat", "jpeg");
    form.set("sourceTaskId", original.body.taskId);
    form.append(
      "images",
      new Blob([new Uint8Array(await pngImage(40, 30, { r: 10, g: 120, b: 200 }))], { type: "image/png" }),
      "bowl.png",
    );
    form.append(
      "images",
      new Blob([new Uint8Array(await pngImage(30, 40, { r: 220, g: 200, b: 20 }))], { type: "image/png" }),
      "cloth.png",
    );
    const first = await generateMultipart(h, form, { token, prefer: "wait" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);

    const firstJob = (await detail(token, first.body.taskId)).body.generation;
    const request = firstJob.request as Record<string, unknown>;
    expect(request).toMatchObject({
      prompt: "put the pear in this bowl",
      model: "nano-banana-2-1",
      aspectRatio: "3:2",
      resolution: "1K",
      outputFormat: "jpeg",
      sourceTaskId: original.body.taskId,
    });
    expect(request.referenceImageIds).toHaveLength(2);
    const before = kieWork(h);
    let again: Answer | undefined;
    await waitFor(
      async () => {
        again = await generateJson(h, request, { token, prefer: "wait" });
        return again.status !== 400;
      },
      // The copies are made in the background: a re-run before they are stored is 400.
      { what: "the references to be stored" },
    );
    expect(again?.status, JSON.stringify(again?.body)).toBe(200);
    const work = kieWork(h);
    // The source's image and the two references are uploaded to KIE from our store: no client upload.
    expect(work.createTask - before.createTask).toBe(1);
    const sent = kieInputOf(h, again?.body.taskId);
    const firstSent = kieInputOf(h, first.body.taskId);
    expect(sent.model).toBe(firstSent.model);
    // Everything but the upload URLs (each upload gets its own) is the same; the bytes behind them too.
    const { image_input: _a, ...sentRest } = sent.input;
    const { image_input: _b, ...firstRest } = firstSent.input;
    expect(sentRest).toEqual(firstRest);
    expect(await imagesKieGot(again?.body.taskId)).toEqual(await imagesKieGot(first.body.taskId));
    // The re-run stores the same request (its references under its own copies).
    const rerunRequest = (await detail(token, again?.body.taskId)).body.generation.request;
    expect({ ...rerunRequest, referenceImageIds: undefined }).toEqual({
      ...request,
      referenceImageIds: undefined,
    });
  });

  it("another user's stored reference is 404, an unknown one too; nothing charged or sent", async () => {
    const owner = await h.signIn();
    const upload = await generateJson(
      h,
      { prompt: "my cat", images: [dataUri("image/png", await pngImage(20, 20))] },
      { token: owner.token, prefer: "wait" },
    );
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    const ids = (await detail(owner.token, upload.body.taskId)).body.generation.request.referenceImageIds;
    expect(ids).toHaveLength(1);

    const intruder = await h.signIn();
    const before = kieWork(h);
    const stolen = await generateJson(
      h,
      { prompt: "mine now", referenceImageIds: ids },
      { token: intruder.token },
    );
    expect(stolen.status, JSON.stringify(stolen.body)).toBe(404);
    expect(stolen.body.error.code).toBe("not_found");
    const unknown = await generateJson(
      h,
      { prompt: "x", referenceImageIds: ["00000000-0000-4000-8000-000000000000.0", "nonsense"] },
      { token: intruder.token },
    );
    expect(unknown.status).toBe(404);
    const tooMany = await generateJson(
      h,
      {
        prompt: "x",
        referenceImageIds: ids,
        images: Array.from({ length: 5 }, (_, i) => `https://e.example/${i}.png`),
      },
      { token: owner.token },
    );
    expect(tooMany.status).toBe(400);
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, intruder.token)).toBe(10);

    // Our store failing is "try again shortly" (503), never "not stored": the image is still there.
    const store = h.app.imageStore;
    const get = store.get.bind(store);
    store.get = () => Promise.reject(new Error("EIO: store down"));
    try {
      await waitFor(async () => {
        const down = await generateJson(
          h,
          { prompt: "again", referenceImageIds: ids },
          { token: owner.token },
        );
        return down.status === 503 && down.body.error.code === "service_unavailable";
      });
    } finally {
      store.get = get;
    }
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, owner.token)).toBe(9);
  });
});
