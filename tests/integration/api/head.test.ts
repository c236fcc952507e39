/**
 * HEAD (RFC 9110 §9.3.2): `next start` answers it with a route's GET handler and never sends —
 * nor cancels — the body that handler made. For an image, that body is an open file: each HEAD
 * left one descriptor open until a garbage collection closed it (Node's DEP0137 warning), so a
 * client sending HEADs in a loop held descriptors the server needs. The route wrapper lets go of
 * the body of every HEAD answer (lib/http/route.ts).
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { ensureAccount } from "@/lib/credits";
import { generations } from "@/lib/db";
import { insertGeneration } from "@/lib/db/generations";
import { resultKey } from "@/lib/storage";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

/** The files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + path.sep)) open.push(target);
    } catch {
      // closed between the listing and the read
    }
  }
  return open;
}

describeEachDatabase("api: HEAD answers", (getDb) => {
  let h: Harness;
  let owner: { token: string; userId: string };
  let jobId: string;
  let png: Buffer;

  beforeAll(async () => {
    h = await startHarness({ database: getDb() });
    owner = await h.signIn();
    png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#f5c000" } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await h?.close();
  });

  beforeEach(async () => {
    await ensureAccount(getDb().db, owner.userId, { initialCredits: 10 });
    jobId = randomUUID();
    await insertGeneration(getDb().db, {
      id: jobId,
      userId: owner.userId,
      type: "text_to_image",
      model: "google/nano-banana",
      prompt: "a stored banana",
      cost: 1,
      status: "succeeded",
      settledAt: new Date(),
      resultUrls: ["https://tempfile.aiquickdraw.com/gone.png"],
    });
    await h.app.imageStore.put(resultKey(jobId, "image/png"), png, { contentType: "image/png" });
    await getDb()
      .db.update(generations)
      .set({
        imageKey: resultKey(jobId, "image/png"),
        imageType: "image/png",
        imageBytes: png.byteLength,
        imageWidth: 64,
        imageHeight: 48,
        imageSha256: "0".repeat(64),
        imageStoredAt: sql`now()`,
      })
      .where(eq(generations.id, jobId));
  });

  it.runIf(existsSync("/proc/self/fd"))(
    "HEAD of an image answers GET's headers without a body and leaves no file open",
    async () => {
      const images = path.join(h.app.config.dataDir, "images");
      expect(openFilesUnder(images)).toEqual([]);
      for (const range of [undefined, "bytes=0-9"]) {
        const response = await h.fetch(`/api/images/${jobId}`, {
          method: "HEAD",
          token: owner.token,
          headers: range ? { range } : {},
        });
        expect(response.status, range).toBe(range ? 206 : 200);
        expect(response.headers.get("etag"), range).toBe(`"${"0".repeat(64)}"`);
        expect(response.headers.get("content-type"), range).toBe("image/png");
        expect(response.body, range).toBeNull();
      }
      // The descriptor is closed by the answer itself, not by a later garbage collection.
      await expect.poll(() => openFilesUnder(images), { timeout: 2_000 }).toEqual([]);
    },
  );

  it("HEAD of a JSON route has GET's status and headers, and no body", async () => {
    const response = await h.fetch("/api/credits", { method: "HEAD", token: owner.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.body).toBeNull();
  });
});
