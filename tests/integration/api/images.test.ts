/**
 * GET /api/images/:id (DESIGN.md §9): the owner by bearer or cookie, or anyone holding a signed
 * link; someone else's image is 404; a tampered or expired link 403; `:id` cannot reach a file.
 * Headers: ETag (sha256), immutable caching, nosniff, a safe download name.
 */
import { createHash, randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { ensureAccount } from "@/lib/credits";
import { generations } from "@/lib/db";
import { insertGeneration } from "@/lib/db/generations";
import { resultKey, thumbnailKey } from "@/lib/storage";
import { ImageLinks } from "@/lib/storage/links";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const SECRET = "an-image-link-secret-for-these-tests-only-0123456789";

describeEachDatabase("api: GET /api/images/:id", (getDb) => {
  let h: Harness;
  let owner: { token: string; userId: string };
  let other: { token: string; userId: string };
  let jobId: string;
  let png: Buffer;
  let thumb: Buffer;

  beforeAll(async () => {
    h = await startHarness({ database: getDb(), env: { IMAGE_URL_SECRET: SECRET } });
    owner = await h.signIn();
    other = await h.signIn();
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#f5c000" } })
      .png()
      .toBuffer();
    thumb = await sharp(png).resize(32).webp().toBuffer();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function storedJob(userId: string): Promise<string> {
    const id = randomUUID();
    await insertGeneration(getDb().db, {
      id,
      userId,
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a stored banana",
      cost: 1,
      status: "succeeded",
      settledAt: new Date(),
      resultUrls: ["https://tempfile.aiquickdraw.com/gone.png"],
    });
    await h.app.imageStore.put(resultKey(id, "image/png"), png, { contentType: "image/png" });
    await h.app.imageStore.put(thumbnailKey(id), thumb, { contentType: "image/webp" });
    await getDb()
      .db.update(generations)
      .set({
        imageKey: resultKey(id, "image/png"),
        imageThumbKey: thumbnailKey(id),
        imageType: "image/png",
        imageBytes: png.byteLength,
        imageWidth: 64,
        imageHeight: 48,
        imageSha256: createHash("sha256").update(png).digest("hex"),
        imageStoredAt: sql`now()`,
      })
      .where(eq(generations.id, id));
    return id;
  }

  // Every test starts on empty tables (describeEachDatabase truncates them).
  beforeEach(async () => {
    await ensureAccount(getDb().db, owner.userId, { initialCredits: 10 });
    await ensureAccount(getDb().db, other.userId, { initialCredits: 10 });
    jobId = await storedJob(owner.userId);
  });

  const get = (path: string, init: RequestInit & { token?: string } = {}) => h.fetch(path, init);
  const sha = (bytes: ArrayBuffer) => createHash("sha256").update(Buffer.from(bytes)).digest("hex");

  it("serves the owner's image by bearer token, with ETag, nosniff, and kept in no cache", async () => {
    const response = await get(`/api/images/${jobId}`, { token: owner.token });
    expect(response.status).toBe(200);
    const bytes = await response.arrayBuffer();
    expect(sha(bytes)).toBe(createHash("sha256").update(png).digest("hex"));
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("etag")).toBe(`"${sha(bytes)}"`);
    // Authorised by a credential the next user of a shared browser will not have (issue 24).
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-disposition")).toBe("inline");
    expect(response.headers.get("content-length")).toBe(String(png.byteLength));
  });

  it("serves it by the session cookie too, and answers 304 to a matching If-None-Match", async () => {
    const cookie = `nb_session=${owner.token}`;
    const first = await get(`/api/images/${jobId}`, { headers: { cookie } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("private, no-store");
    const again = await get(`/api/images/${jobId}`, {
      headers: { cookie, "if-none-match": first.headers.get("etag") as string },
    });
    expect(again.status).toBe(304);
  });

  it("serves the 256-px thumbnail as WebP with ?variant=thumb", async () => {
    const response = await get(`/api/images/${jobId}?variant=thumb`, { token: owner.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(Buffer.from(await response.arrayBuffer()).equals(thumb)).toBe(true);
    expect(response.headers.get("etag")).not.toBe(`"${createHash("sha256").update(png).digest("hex")}"`);
  });

  it("serves one byte range with 206 and Content-Range, the thumbnail too", async () => {
    const cases: [string, number, number][] = [
      ["bytes=0-15", 0, 15],
      ["bytes=10-", 10, png.byteLength - 1],
      ["bytes=-20", png.byteLength - 20, png.byteLength - 1],
      // An end past the file is cut to its last byte; a suffix longer than it is the whole file.
      ["bytes=5-999999999999", 5, png.byteLength - 1],
      ["bytes=-999999", 0, png.byteLength - 1],
    ];
    for (const [range, start, end] of cases) {
      const response = await get(`/api/images/${jobId}`, { token: owner.token, headers: { range } });
      expect(response.status, range).toBe(206);
      expect(response.headers.get("content-range"), range).toBe(`bytes ${start}-${end}/${png.byteLength}`);
      expect(response.headers.get("content-length"), range).toBe(String(end - start + 1));
      expect(response.headers.get("accept-ranges")).toBe("bytes");
      expect(response.headers.get("cache-control")).toBe("private, no-store");
      expect(Buffer.from(await response.arrayBuffer()).equals(png.subarray(start, end + 1)), range).toBe(
        true,
      );
    }
    const link = new URL(h.app.imageLinks.url(jobId, "thumb"), "http://localhost");
    const part = await get(`${link.pathname}${link.search}`, { headers: { range: "bytes=4-11" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 4-11/${thumb.byteLength}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(thumb.subarray(4, 12))).toBe(true);
  });

  it("a range that selects no byte is 416 with the image's size; nothing else is refused", async () => {
    for (const range of [
      `bytes=${png.byteLength}-`,
      `bytes=${png.byteLength + 100}-${png.byteLength + 200}`,
      "bytes=-0",
    ]) {
      const response = await get(`/api/images/${jobId}`, { token: owner.token, headers: { range } });
      expect(response.status, range).toBe(416);
      expect(response.headers.get("content-range"), range).toBe(`bytes */${png.byteLength}`);
      expect((await response.json()).error.code).toBe("range_not_satisfiable");
    }
    // Several ranges, a reversed one, a negative start, numbers too long to be exact, another
    // unit, or a garbled header: the whole image (200), never more than one copy of it.
    for (const range of [
      "bytes=0-1,2-3,4-5,6-7,8-9,0-1,2-3",
      "bytes=0-1, 0-1",
      "bytes=20-10",
      "bytes=-5-10",
      "bytes=0-99999999999999999999",
      "bytes=1e3-",
      "items=0-10",
      "bytes=",
      "bytes=-",
    ]) {
      const response = await get(`/api/images/${jobId}`, { token: owner.token, headers: { range } });
      expect(response.status, range).toBe(200);
      expect(response.headers.get("content-range"), range).toBeNull();
      expect((await response.arrayBuffer()).byteLength, range).toBe(png.byteLength);
    }
  });

  it("If-Range: the range only for the current ETag, else the whole image; If-None-Match comes first", async () => {
    const etag = `"${createHash("sha256").update(png).digest("hex")}"`;
    const current = await get(`/api/images/${jobId}`, {
      token: owner.token,
      headers: { range: "bytes=0-9", "if-range": etag },
    });
    expect(current.status).toBe(206);
    expect((await current.arrayBuffer()).byteLength).toBe(10);
    for (const ifRange of ['"another-version"', `W/${etag}`, "Wed, 21 Oct 2015 07:28:00 GMT"]) {
      const stale = await get(`/api/images/${jobId}`, {
        token: owner.token,
        headers: { range: "bytes=0-9", "if-range": ifRange },
      });
      expect(stale.status, ifRange).toBe(200);
      expect((await stale.arrayBuffer()).byteLength, ifRange).toBe(png.byteLength);
    }
    const cached = await get(`/api/images/${jobId}`, {
      token: owner.token,
      headers: { range: "bytes=0-9", "if-none-match": etag },
    });
    expect(cached.status).toBe(304);
  });

  it("?download=1 is an attachment with a safe file name", async () => {
    const response = await get(`/api/images/${jobId}?download=1`, { token: owner.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toBe(
      `attachment; filename="nano-banana-${jobId.slice(0, 8)}.png"`,
    );
  });

  it("someone else's image is 404, like an unknown one; no credentials is 401", async () => {
    const theirs = await get(`/api/images/${jobId}`, { token: other.token });
    expect(theirs.status).toBe(404);
    expect((await theirs.json()).error.code).toBe("not_found");
    expect((await get(`/api/images/${randomUUID()}`, { token: owner.token })).status).toBe(404);
    expect((await get(`/api/images/${jobId}`)).status).toBe(401);
  });

  it("a signed link's answer is cached no longer than the link lives", async () => {
    const link = new URL(h.app.imageLinks.url(jobId), "http://localhost");
    const left = Number(link.searchParams.get("expires")) - Math.floor(Date.now() / 1000);
    const response = await get(`${link.pathname}${link.search}`);
    expect(response.status).toBe(200);
    const cacheControl = response.headers.get("cache-control") ?? "";
    expect(cacheControl).toMatch(/^private, max-age=\d+, immutable$/);
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(left);
  });

  it("a signed link works without credentials, for its own image and variant only", async () => {
    const link = new URL(h.app.imageLinks.url(jobId), "http://localhost");
    expect(link.pathname).toBe(`/api/images/${jobId}`);
    const response = await get(`${link.pathname}${link.search}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(png)).toBe(true);

    const thumbLink = new URL(h.app.imageLinks.url(jobId, "thumb"), "http://localhost");
    expect((await get(`${thumbLink.pathname}${thumbLink.search}`)).status).toBe(200);

    // The original's signature does not open the thumbnail, nor another job's image.
    const otherJob = await storedJob(owner.userId);
    const sig = link.searchParams.get("sig");
    const expires = link.searchParams.get("expires");
    for (const path of [
      `/api/images/${jobId}?variant=thumb&expires=${expires}&sig=${sig}`,
      `/api/images/${otherJob}?expires=${expires}&sig=${sig}`,
    ]) {
      const refused = await get(path);
      expect(refused.status, path).toBe(403);
      expect((await refused.json()).error.code).toBe("forbidden");
    }
  });

  it("a tampered or expired signed link is 403, even with the owner's token", async () => {
    const link = new URL(h.app.imageLinks.url(jobId), "http://localhost");
    const expires = Number(link.searchParams.get("expires"));
    const sig = link.searchParams.get("sig") as string;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("A") ? "B" : "A"}`;
    const stale = new URL(
      new ImageLinks(new TextEncoder().encode(SECRET), { now: () => Date.now() - 3 * 86_400_000 }).url(jobId),
      "http://localhost",
    );
    const cases = [
      `/api/images/${jobId}?expires=${expires}&sig=${flipped}`,
      `/api/images/${jobId}?expires=${expires + 3600}&sig=${sig}`,
      `/api/images/${jobId}?expires=${expires}`,
      `/api/images/${jobId}?sig=${sig}`,
      `/api/images/${jobId}?expires=${expires}&kid=not-our-key&sig=${sig}`,
      `${stale.pathname}${stale.search}`,
    ];
    for (const path of cases) {
      expect((await get(path)).status, path).toBe(403);
      expect((await get(path, { token: owner.token })).status, path).toBe(403);
    }
    const expired = await get(`${stale.pathname}${stale.search}`);
    expect((await expired.json()).error.message).toMatch(/expired/);
  });

  it("no path traversal through :id: anything but a job's UUID is 404", async () => {
    for (const id of [
      "..%2F..%2F..%2Fetc%2Fpasswd",
      "%2e%2e%2fimage-url-secret",
      "..%5C..%5Cimage-url-secret",
      `${jobId}.png`,
      `${jobId}%2F..%2F..%2Fimage-url-secret`,
      "results%2Fanything.png",
      "%00",
    ]) {
      const response = await get(`/api/images/${id}`, { token: owner.token });
      expect(response.status, id).toBe(404);
      expect(response.headers.get("content-type"), id).toMatch(/json/);
    }
  });

  it("refuses an unknown variant or download value with 400", async () => {
    expect((await get(`/api/images/${jobId}?variant=../../x`, { token: owner.token })).status).toBe(400);
    expect((await get(`/api/images/${jobId}?download=yes`, { token: owner.token })).status).toBe(400);
  });

  it("an image whose files were deleted is 404", async () => {
    const id = await storedJob(owner.userId);
    await getDb().db.update(generations).set({ imagesDeletedAt: sql`now()` }).where(eq(generations.id, id));
    expect((await get(`/api/images/${id}`, { token: owner.token })).status).toBe(404);
  });
});
