/**
 * Image edits: local images (multipart files, data: URIs) are uploaded to KIE first and KIE's
 * URLs for them are what the task is given; an https URL the user names is passed through as is.
 *
 * kie-sim runs with a public https base, so every upload URL it hands out names a host that is
 * never resolved: the sim serves its own URLs from memory, and this test reads the bytes back
 * through the sim's real 127.0.0.1 address. Its results are on that address (as KIE's are on
 * another host than its uploads), so the app copies them.
 */
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { eventually, jobRow } from "../jobs/jobKit";
import {
  creditsOf,
  dataUri,
  generateJson,
  generateMultipart,
  getStatus,
  kieInputOf,
  kieWork,
  pngImage,
} from "./generateKit";

const SIM_PUBLIC_BASE = "https://kie-sim.test";
const UPLOAD_PREFIX = `${SIM_PUBLIC_BASE}/files/`;

describeEachDatabase("POST /api/generate: image edits", (getDb) => {
  let h: Harness;
  let red: Buffer;
  let blue: Buffer;
  beforeAll(async () => {
    h = await startHarness({ database: getDb(), sim: { publicUrl: SIM_PUBLIC_BASE, ownResultUrls: true } });
    red = await pngImage(40, 30, { r: 220, g: 20, b: 20 });
    blue = await pngImage(30, 40, { r: 20, g: 20, b: 220 });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The bytes kie-sim stores behind one of its public URLs. */
  async function bytesBehind(publicUrl: string): Promise<Buffer> {
    const response = await fetch(publicUrl.replace(SIM_PUBLIC_BASE, h.sim.url));
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  function pngPart(form: FormData, bytes: Buffer, name: string) {
    form.append("images", new Blob([new Uint8Array(bytes)], { type: "image/png" }), name);
  }

  it("multipart files are uploaded to KIE first; their KIE URLs are the task's image_urls, in order", async () => {
    const { token } = await h.signIn();
    const before = kieWork(h);
    const form = new FormData();
    form.append("prompt", "make it a banana");
    form.append("aspectRatio", "4:3");
    pngPart(form, red, "red.png");
    pngPart(form, blue, "blue.png");
    const res = await generateMultipart(h, form, { token, prefer: "wait" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });

    const after = kieWork(h);
    expect(after.uploads - before.uploads).toBe(2);
    expect(after.createTask - before.createTask).toBe(1);

    const { model, input } = kieInputOf(h, res.body.taskId);
    expect(model).toBe("google/nano-banana-edit");
    expect(input.aspect_ratio).toBe("4:3");
    const urls = input.image_urls as string[];
    expect(urls).toHaveLength(2);
    for (const url of urls) expect(url.startsWith(UPLOAD_PREFIX)).toBe(true);
    // KIE got the user's own bytes, in the order they were sent.
    expect((await bytesBehind(urls[0]!)).equals(red)).toBe(true);
    expect((await bytesBehind(urls[1]!)).equals(blue)).toBe(true);

    const status = await getStatus(h, token, res.body.taskId);
    expect(status.body).toMatchObject({ status: "succeeded", type: "image_edit" });
  });

  it("a JSON data: URI is uploaded to KIE first; its KIE URL is the task's image_url", async () => {
    const { token } = await h.signIn();
    const before = kieWork(h);
    const res = await generateJson(
      h,
      { prompt: "recolour it", images: [dataUri("image/png", blue)] },
      { token, prefer: "wait" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("succeeded");
    expect(kieWork(h).uploads - before.uploads).toBe(1);

    const { model, input } = kieInputOf(h, res.body.taskId);
    expect(model).toBe("google/nano-banana-edit");
    const urls = input.image_urls as string[];
    expect(urls).toHaveLength(1);
    expect(urls[0]!.startsWith(UPLOAD_PREFIX)).toBe(true);
    expect((await bytesBehind(urls[0]!)).equals(blue)).toBe(true);
    // The data: URI itself never reaches KIE.
    expect(JSON.stringify(input)).not.toContain("base64");
  });

  it("an https image URL is passed to KIE as is, with no upload", async () => {
    const { token } = await h.signIn();
    // A file already hosted by KIE (uploaded straight to the sim, not through the app).
    const uploaded = await fetch(`${h.sim.url}/api/file-base64-upload`, {
      method: "POST",
      headers: { authorization: "Bearer test-uploader", "content-type": "application/json" },
      body: JSON.stringify({ base64Data: dataUri("image/png", red), uploadPath: "elsewhere" }),
    });
    const hosted = ((await uploaded.json()) as { data: { downloadUrl: string } }).data.downloadUrl;
    expect(hosted.startsWith(SIM_PUBLIC_BASE)).toBe(true);

    const before = kieWork(h);
    const res = await generateJson(
      h,
      { prompt: "use this one", images: [hosted] },
      { token, prefer: "wait" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("succeeded");
    expect(kieWork(h).uploadCalls).toBe(before.uploadCalls);
    expect(kieInputOf(h, res.body.taskId).input.image_urls).toEqual([hosted]);
    expect(await creditsOf(h, token)).toBe(9);
  });

  it("a URL part and a file part together: the URL as is, then the uploaded file", async () => {
    const { token } = await h.signIn();
    const uploaded = await fetch(`${h.sim.url}/api/file-base64-upload`, {
      method: "POST",
      headers: { authorization: "Bearer test-uploader", "content-type": "application/json" },
      body: JSON.stringify({ base64Data: dataUri("image/png", blue), uploadPath: "elsewhere" }),
    });
    const hosted = ((await uploaded.json()) as { data: { downloadUrl: string } }).data.downloadUrl;

    const before = kieWork(h);
    const form = new FormData();
    form.append("prompt", "combine them");
    form.append("images", hosted);
    pngPart(form, red, "red.png");
    const res = await generateMultipart(h, form, { token, prefer: "respond-async" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(kieWork(h).uploads - before.uploads).toBe(1);
    const urls = kieInputOf(h, res.body.taskId).input.image_urls as string[];
    expect(urls).toHaveLength(2);
    expect(urls[0]).toBe(hosted);
    expect(urls[1]!.startsWith(UPLOAD_PREFIX)).toBe(true);
    expect((await bytesBehind(urls[1]!)).equals(red)).toBe(true);
  });

  /** A 40×30 photo, red left and blue right, that a camera held upright tagged EXIF orientation 6. */
  async function turnedPhoto(): Promise<Buffer> {
    const raw = Buffer.alloc(40 * 30 * 3);
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 40; x++) raw.set(x < 20 ? [230, 20, 20] : [20, 20, 230], (y * 40 + x) * 3);
    }
    return sharp(raw, { raw: { width: 40, height: 30, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
  }

  /** What KIE got is upright: 30×40 with no turn left to do, red on top (the photo's left). */
  async function expectUpright(bytes: Buffer) {
    const image = sharp(bytes);
    const { width, height, orientation } = await image.metadata();
    expect({ width, height, orientation: orientation ?? 1 }).toEqual({
      width: 30,
      height: 40,
      orientation: 1,
    });
    const { data } = await image.raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * 30 + x) * 3, (y * 30 + x) * 3 + 3)];
    expect(at(15, 5)[0]).toBeGreaterThan(150); // red on top
    expect(at(15, 34)[2]).toBeGreaterThan(150); // blue below
  }

  it("a photo turned by EXIF (orientation 6) reaches KIE upright and is stored upright, as a file and as a data: URI", async () => {
    const { token } = await h.signIn();
    const photo = await turnedPhoto();
    const form = new FormData();
    form.append("prompt", "make it a banana");
    form.append("images", new Blob([new Uint8Array(photo)], { type: "image/jpeg" }), "IMG_0002.jpg");
    const viaFile = await generateMultipart(h, form, { token, prefer: "wait" });
    expect(viaFile.status, JSON.stringify(viaFile.body)).toBe(200);
    await expectUpright(
      await bytesBehind((kieInputOf(h, viaFile.body.taskId).input.image_urls as string[])[0]!),
    );
    // Our own copy of the input (DESIGN.md §9) is the upright one too.
    const row = await eventually(
      "the input to be stored",
      () => jobRow(getDb(), viaFile.body.taskId),
      (job) => (job.inputImages?.length ?? 0) > 0,
    );
    const stored = await h.app.imageStore.get(row.inputImages![0]!.key);
    expect(stored).toBeDefined();
    const chunks: Buffer[] = [];
    for await (const chunk of stored!.body) chunks.push(Buffer.from(chunk));
    await expectUpright(Buffer.concat(chunks));

    const viaUri = await generateJson(
      h,
      { prompt: "again", images: [dataUri("image/jpeg", photo)] },
      { token, prefer: "wait" },
    );
    expect(viaUri.status, JSON.stringify(viaUri.body)).toBe(200);
    await expectUpright(
      await bytesBehind((kieInputOf(h, viaUri.body.taskId).input.image_urls as string[])[0]!),
    );
  });
});
