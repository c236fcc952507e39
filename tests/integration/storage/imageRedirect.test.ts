/**
 * Images at scale with S3 (DESIGN.md §9, issue 28 item 4): `GET /api/images/:id` answers a 302 to
 * a short-lived presigned URL of the bucket — only after the same checks as before (owner, or a
 * valid signed link) — so the bytes never pass through the app; the URL works when followed and
 * stops working when it expires; the redirect is never cached past the link or for a signed-in
 * user. S3_PRESIGNED_REDIRECT=false streams the bytes through the app instead.
 */
import { createHash, randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { ensureAccount } from "@/lib/credits";
import { generations } from "@/lib/db";
import { insertGeneration } from "@/lib/db/generations";
import { ImageLibrary, PRESIGN_TTL_SECONDS } from "@/lib/generation/images";
import { resultKey, thumbnailKey } from "@/lib/storage";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { startTestS3, type TestS3 } from "../../helpers/s3";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describeEachDatabase("S3: images answered by a redirect to a presigned URL", (getDb) => {
  let s3: TestS3;
  let h: Harness;
  let streaming: Harness;
  let owner: { token: string; userId: string };
  let other: { token: string; userId: string };
  let png: Buffer;
  let thumb: Buffer;
  let jobId: string;

  beforeAll(async () => {
    s3 = await startTestS3();
    h = await startHarness({ database: getDb(), env: s3.env });
    // A second instance on the same database and bucket, with the redirect turned off. Same
    // DATA_DIR for the dev sign-in secret, so the same tokens work on both.
    streaming = await startHarness({
      database: getDb(),
      env: { ...s3.env, S3_PRESIGNED_REDIRECT: "false", DATA_DIR: h.app.config.dataDir },
    });
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#f5c000" } })
      .png()
      .toBuffer();
    thumb = await sharp(png).resize(32).webp().toBuffer();
  });
  afterAll(async () => {
    await streaming?.close();
    await h?.close();
    await s3?.close();
  });

  beforeEach(async () => {
    owner = await h.signIn();
    other = await h.signIn();
    await ensureAccount(getDb().db, owner.userId, { initialCredits: 10 });
    await ensureAccount(getDb().db, other.userId, { initialCredits: 10 });
    jobId = randomUUID();
    await insertGeneration(getDb().db, {
      id: jobId,
      userId: owner.userId,
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a banana in a bucket",
      cost: 1,
      status: "succeeded",
      settledAt: new Date(),
      resultUrls: ["https://tempfile.aiquickdraw.com/gone.png"],
    });
    await h.app.imageStore.put(resultKey(jobId, "image/png"), png, { contentType: "image/png" });
    await h.app.imageStore.put(thumbnailKey(jobId), thumb, { contentType: "image/webp" });
    await getDb()
      .db.update(generations)
      .set({
        imageKey: resultKey(jobId, "image/png"),
        imageThumbKey: thumbnailKey(jobId),
        imageType: "image/png",
        imageBytes: png.byteLength,
        imageSha256: sha(png),
        imageStoredAt: sql`now()`,
      })
      .where(eq(generations.id, jobId));
  });

  /** The redirect's target: on the test's S3 server (loopback), presigned for at most 5 minutes. */
  function presigned(response: Response): URL {
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location") as string);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.pathname.startsWith(`/${s3.bucket}/results/${jobId}`)).toBe(true);
    const expires = Number(location.searchParams.get("X-Amz-Expires"));
    expect(expires).toBeGreaterThan(0);
    expect(expires).toBeLessThanOrEqual(PRESIGN_TTL_SECONDS);
    expect(response.body).toBeNull();
    return location;
  }

  const linkPath = (variant?: "thumb") => {
    const link = new URL(h.app.imageLinks.url(jobId, variant), "http://localhost");
    return `${link.pathname}${link.search}`;
  };

  it("the owner is sent to the bucket, and the URL serves the image's bytes (thumbnail, download too)", async () => {
    const response = await h.fetch(`/api/images/${jobId}`, { token: owner.token });
    const location = presigned(response);
    // Signed in: neither the redirect nor the bytes are kept (a shared browser after sign-out).
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    expect(followed.headers.get("content-type")).toBe("image/png");
    expect(followed.headers.get("cache-control")).toBe("private, no-store");
    expect(sha(new Uint8Array(await followed.arrayBuffer()))).toBe(sha(png));

    const thumbAnswer = await h.fetch(`/api/images/${jobId}?variant=thumb`, { token: owner.token });
    const thumbFollowed = await fetch(presigned(thumbAnswer));
    expect(thumbFollowed.headers.get("content-type")).toBe("image/webp");
    expect(Buffer.from(await thumbFollowed.arrayBuffer()).equals(thumb)).toBe(true);

    // Nothing of the request reaches the Location: parameters of its own are ignored.
    const smuggled = `/api/images/${jobId}?next=%2F%2Fevil.example&url=https://evil.example/x&location=%5C%5Cevil`;
    presigned(await h.fetch(smuggled, { token: owner.token }));

    const download = await fetch(
      presigned(await h.fetch(`/api/images/${jobId}?download=1`, { token: owner.token })),
    );
    expect(download.headers.get("content-disposition")).toBe(
      `attachment; filename="nano-banana-${jobId.slice(0, 8)}.png"`,
    );
    await download.arrayBuffer();
  });

  it("a signed link is redirected too: the redirect kept to the end of its minute, the bytes never past the link", async () => {
    const path = linkPath();
    const expires = Number(new URL(path, "http://localhost").searchParams.get("expires"));
    const response = await h.fetch(path);
    const location = presigned(response);
    const redirectAge = Number(
      /^private, max-age=(\d+)$/.exec(response.headers.get("cache-control") ?? "")?.[1],
    );
    expect(redirectAge).toBeLessThanOrEqual(60);
    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    const bytesAge = /^private, max-age=(\d+), immutable$/.exec(followed.headers.get("cache-control") ?? "");
    expect(Number(bytesAge?.[1])).toBeLessThanOrEqual(Math.min(240, expires - Math.floor(Date.now() / 1000)));
    expect(sha(new Uint8Array(await followed.arrayBuffer()))).toBe(sha(png));
    // The same URL for every request of the minute, so the browser's cache of the bytes works.
    const again = presigned(await h.fetch(path));
    expect(again.searchParams.get("X-Amz-Date")).toBe(location.searchParams.get("X-Amz-Date"));
  });

  it("a link that ends within the URL's 5 minutes sends to a URL that ends with it, not after", async () => {
    const linkEnd = Math.floor(Date.now() / 1000) + 20;
    const answer = await h.app.images.serve(jobId, "original", { kind: "link", expires: linkEnd });
    expect(answer?.kind).toBe("redirect");
    const url = new URL(answer?.kind === "redirect" ? answer.url : "");
    const signed = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(
      url.searchParams.get("X-Amz-Date") ?? "",
    );
    const [, y, mo, d, hh, mm, ss] = (signed ?? []).map(Number);
    const signedAt = Date.UTC(y as number, (mo as number) - 1, d, hh, mm, ss) / 1000;
    // The holder of an expired link must not keep the image through a URL it was sent to before.
    expect(signedAt + Number(url.searchParams.get("X-Amz-Expires"))).toBeLessThanOrEqual(linkEnd);
    expect((await fetch(url)).status).toBe(200);
  });

  it("someone else, no credentials or a bad link never get a redirect", async () => {
    const link = new URL(linkPath(), "http://localhost");
    const sig = link.searchParams.get("sig") as string;
    const tampered = `/api/images/${jobId}?expires=${link.searchParams.get("expires")}&sig=${sig.slice(0, -2)}AA`;
    const cases: [string, { token?: string }, number][] = [
      [`/api/images/${jobId}`, { token: other.token }, 404],
      [`/api/images/${jobId}`, {}, 401],
      [tampered, {}, 403],
      [`/api/images/${jobId}?variant=thumb&expires=${link.searchParams.get("expires")}&sig=${sig}`, {}, 403],
      [`/api/images/${randomUUID()}`, { token: owner.token }, 404],
    ];
    for (const [path, init, status] of cases) {
      const response = await h.fetch(path, init);
      expect(response.status, path).toBe(status);
      expect(response.headers.get("location"), path).toBeNull();
    }
  });

  it("the presigned URL expires", async () => {
    // The same library over the same database and bucket, with its clock 10 minutes behind.
    const past = new ImageLibrary({
      db: getDb().db,
      store: h.app.imageStore,
      redirect: true,
      fetchSource: () => Promise.reject(new Error("not used")),
      now: () => Date.now() - 10 * 60_000,
    });
    const answer = await past.serve(jobId, "original", { kind: "user", userId: owner.userId });
    expect(answer?.kind).toBe("redirect");
    const url = answer?.kind === "redirect" ? answer.url : "";
    const refused = await fetch(url);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/expired/i);
    // Fresh, the same image's URL works.
    expect(
      (await fetch(presigned(await h.fetch(`/api/images/${jobId}`, { token: owner.token })))).status,
    ).toBe(200);
  });

  it("S3_PRESIGNED_REDIRECT=false streams the bytes through the app, with ETag and 304", async () => {
    const response = await streaming.fetch(`/api/images/${jobId}`, { token: owner.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("location")).toBeNull();
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("etag")).toBe(`"${sha(png)}"`);
    expect(sha(new Uint8Array(await response.arrayBuffer()))).toBe(sha(png));
    const again = await streaming.fetch(`/api/images/${jobId}`, {
      token: owner.token,
      headers: { "if-none-match": `"${sha(png)}"` },
    });
    expect(again.status).toBe(304);
  });
});
