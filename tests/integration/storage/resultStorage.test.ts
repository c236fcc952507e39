/**
 * Results outlive KIE (DESIGN.md §9), on both stores: `imageUrl` is our signed link and keeps
 * serving the same bytes after KIE's file is gone (also from a second app instance, with S3); a
 * result that is not an image or over the cap fails the job and releases the credits; a store
 * that is down lets the job succeed on KIE's URL, and the reconciler copies it once the store is
 * back. Charged once in every case.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { followImage, startTestS3, type TestS3 } from "../../helpers/s3";
import { mountTmpfs, TMPFS_UNAVAILABLE } from "../../helpers/tmpfs";
import { creditsOf, jobRow, ledgerOf } from "../jobs/jobKit";

const SECRET = "result-storage-test-secret-0123456789abcdef";
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function generate(h: Harness, token: string, prompt: string, extra: Record<string, unknown> = {}) {
  const response = await h.fetch("/api/generate", {
    method: "POST",
    token,
    headers: { "content-type": "application/json", prefer: "wait" },
    body: JSON.stringify({ prompt, ...extra }),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * GET a link the API handed out (relative without APP_URL), with no credentials at all, as a
 * browser would: following S3's redirect to the bucket.
 */
async function fetchLink(h: Harness, link: string): Promise<Response> {
  const url = new URL(link, "http://localhost");
  return followImage(await h.fetch(`${url.pathname}${url.search}`));
}

async function bytesOf(response: Response): Promise<Buffer> {
  return Buffer.from(await response.arrayBuffer());
}

function suite(kind: "local" | "s3") {
  describeEachDatabase(`result storage (${kind})`, (getDb) => {
    let s3: TestS3 | undefined;
    let h: Harness;
    const env = () => ({
      IMAGE_URL_SECRET: SECRET,
      CREDITS_INITIAL: "5",
      RATE_LIMIT_PER_MINUTE: "1000",
      ...(s3?.env ?? {}),
    });
    beforeAll(async () => {
      if (kind === "s3") s3 = await startTestS3();
      h = await startHarness({ database: getDb(), env: env() });
    });
    afterAll(async () => {
      await h?.close();
      await s3?.close();
    });

    it("imageUrl still serves the same bytes after KIE's file is gone", async () => {
      const { token } = await h.signIn();
      const { status, body } = await generate(h, token, "a durable banana", { aspectRatio: "16:9" });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.imageUrl).toMatch(/^\/api\/images\/[0-9a-f-]{36}\?expires=\d+&kid=[\w-]+&sig=/);
      expect(body.images).toEqual([body.imageUrl]);
      expect(body.sourceUrl).toBe(h.sim.task(body.taskId)?.resultUrl);
      expect(body.imageStored).toBe(true);

      const original = await bytesOf(await fetch(body.sourceUrl));
      const served = await fetchLink(h, body.imageUrl);
      expect(served.status).toBe(200);
      const first = await bytesOf(served);
      expect(sha(first)).toBe(sha(original));

      const row = await jobRow(getDb(), body.taskId);
      const meta = await sharp(original).metadata();
      expect(row).toMatchObject({
        imageBytes: original.byteLength,
        imageType: "image/png",
        imageWidth: meta.width,
        imageHeight: meta.height,
        imageSha256: sha(original),
      });
      expect(row.imageKey).toBe(`results/${row.id}.png`);

      // KIE deletes its result: the simulator's file URLs now answer 404.
      h.sim.setFaults("files:http=404");
      try {
        expect((await fetch(body.sourceUrl)).status).toBe(404);
        const later = await fetchLink(h, body.imageUrl);
        expect(later.status).toBe(200);
        expect(sha(await bytesOf(later))).toBe(sha(original));
        const status = await (await h.fetch(`/api/generate/${body.taskId}`, { token })).json();
        expect(status.imageUrl).toMatch(/^\/api\/images\//);
        const thumb = await fetchLink(h, status.thumbnailUrl);
        expect(thumb.headers.get("content-type")).toBe("image/webp");
        const thumbMeta = await sharp(await bytesOf(thumb)).metadata();
        expect(Math.max(thumbMeta.width ?? 0, thumbMeta.height ?? 0)).toBeLessThanOrEqual(256);
      } finally {
        h.sim.setFaults([]);
      }
    });

    it("a result that is not an image, or over the cap, fails the job and releases the credits", async () => {
      const { token } = await h.signIn();
      for (const directive of ["[sim:result=not-image]", "[sim:result=oversize=31457280]"]) {
        const { status, body } = await generate(h, token, `${directive} a broken banana`);
        expect(status, JSON.stringify(body)).toBe(502);
        expect(body.error.code).toBe("upstream_error");
        const row = await jobRow(getDb(), body.error.taskId);
        expect(row.status).toBe("failed");
        expect(row.imageKey).toBeNull();
        expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
      }
      expect(await creditsOf(h, token)).toBe(5);
      const listed: string[] = [];
      for await (const entry of h.app.imageStore.list("results/")) listed.push(entry.key);
      expect(listed.filter((key) => !key.includes(".thumb."))).toHaveLength(listed.length / 2);
    });

    it("with the store down the job succeeds on KIE's URL, and is copied once the store is back", async () => {
      const { token } = await h.signIn();
      const restore = await storeDown(kind, h, s3);
      let body: { taskId: string; imageUrl: string; imageStored: boolean };
      try {
        const answer = await generate(h, token, "a banana while the store is down");
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        body = answer.body;
        expect(body.imageStored).toBe(false);
        // Still viewable: our link serves KIE's file until the copy is made.
        const meanwhile = await fetchLink(h, body.imageUrl);
        expect(meanwhile.status).toBe(200);
        expect(meanwhile.headers.get("cache-control")).toBe("private, no-cache");
        // The store is still down: the reconciler tries, fails, and backs off.
        await h.app.sweep();
        expect((await jobRow(getDb(), body.taskId)).imageStoredAt).toBeNull();
      } finally {
        await restore();
      }
      await makeDue(getDb(), body.taskId);
      // A sweep the reconciler has already stopped (shutdown) copies nothing.
      expect((await h.app.sweep(AbortSignal.abort())).imagesCopied).toBe(0);
      expect((await jobRow(getDb(), body.taskId)).imageStoredAt).toBeNull();
      const swept = await h.app.sweep();
      expect(swept.imagesCopied).toBe(1);
      const row = await jobRow(getDb(), body.taskId);
      expect(row.imageStoredAt).not.toBeNull();
      expect(row.status).toBe("succeeded");
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
      expect(await creditsOf(h, token)).toBe(4);

      h.sim.setFaults("files:http=404");
      try {
        const served = await fetchLink(h, body.imageUrl);
        expect(served.status).toBe(200);
        expect(sha(await bytesOf(served))).toBe(row.imageSha256);
        // Ours when the app serves the bytes; with S3 the bucket does (after a redirect).
        if (kind === "local") expect(served.headers.get("etag")).toBe(`"${row.imageSha256}"`);
      } finally {
        h.sim.setFaults([]);
      }
    });

    if (kind === "s3") {
      it("a second app instance (same database and bucket) serves the image after KIE's file is gone", async () => {
        const { token } = await h.signIn();
        const { status, body } = await generate(h, token, "a banana seen from elsewhere");
        expect(status).toBe(200);
        const original = await bytesOf(await fetch(body.sourceUrl));
        h.sim.setFaults("files:http=404");
        // Same DATA_DIR only for the dev sign-in secret (the owner's token); images are in S3.
        const second = await startHarness({
          database: getDb(),
          env: { ...env(), DATA_DIR: h.app.config.dataDir },
        });
        try {
          const served = await fetchLink(second, body.imageUrl);
          expect(served.status).toBe(200);
          expect(sha(await bytesOf(served))).toBe(sha(original));
          // And by the owner's token, not only by the signed link.
          const id = new URL(body.imageUrl, "http://localhost").pathname.split("/").at(-1);
          const owned = await followImage(await second.fetch(`/api/images/${id}`, { token }));
          expect(owned.status).toBe(200);
          expect(sha(await bytesOf(owned))).toBe(sha(original));
        } finally {
          h.sim.setFaults([]);
          await second.close();
        }
      });
    }
  });
}

/**
 * Takes the store down; returns the cure. S3: the server stops. Local: its disk is full — a small
 * tmpfs, filled, mounted over DATA_DIR/images (the files already there come back with the cure);
 * where none can be mounted, its folder cannot be created (warned).
 */
async function storeDown(kind: "local" | "s3", h: Harness, s3?: TestS3): Promise<() => Promise<void>> {
  if (kind === "s3" && s3) {
    await s3.stop();
    return () => s3.start();
  }
  const root = path.join(h.app.config.dataDir, "images");
  if (!TMPFS_UNAVAILABLE) {
    mkdirSync(root, { recursive: true });
    const disk = mountTmpfs(64 * 1024, root);
    disk.fill();
    return async () => {
      execFileSync("umount", [root]);
    };
  }
  console.warn(
    `result storage: no tmpfs (${TMPFS_UNAVAILABLE}); the local store is down by a missing folder`,
  );
  const aside = `${root}.aside`;
  rmSync(aside, { recursive: true, force: true });
  if (existsSync(root)) renameSync(root, aside);
  writeFileSync(root, "not a folder");
  return async () => {
    rmSync(root, { force: true });
    if (existsSync(aside)) renameSync(aside, root);
  };
}

/** The reconciler backs off after a failed copy; make the next try due now. */
async function makeDue(database: Database, taskId: string): Promise<void> {
  const { generations } = await import("@/lib/db");
  const { eq, sql } = await import("drizzle-orm");
  const row = await jobRow(database, taskId);
  await database.db.update(generations).set({ imageRetryAt: sql`now()` }).where(eq(generations.id, row.id));
}

describe("result storage", () => {
  suite("local");
  suite("s3");
});
