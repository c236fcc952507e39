/**
 * A full disk never fails a paid job nor loses its image (DESIGN.md §9, issue 22 item 1): on a
 * real small filesystem (a tmpfs holding DATA_DIR, so the copy's spool and the store), a result
 * whose copy runs out of space succeeds on KIE's URL, charged once and viewable through our link;
 * once space returns, the reconciler's copy-later stores the very bytes KIE served.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { mountTmpfs, skipWithoutTmpfs, type Tmpfs } from "../../helpers/tmpfs";
import { creditsOf, jobRow, ledgerOf } from "../jobs/jobKit";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe.skipIf(skipWithoutTmpfs("disk full"))("disk full", () => {
  describeEachDatabase("a copy that hits ENOSPC", (getDb) => {
    let disk: Tmpfs;
    let h: Harness;
    beforeAll(async () => {
      disk = mountTmpfs(2 * 1024 * 1024);
      h = await startHarness({
        database: getDb(),
        env: {
          DATA_DIR: path.join(disk.dir, "data"),
          IMAGE_URL_SECRET: "disk-full-test-secret-0123456789abcdef",
          CREDITS_INITIAL: "3",
          KIE_POLL_BUDGET_MS: "15000",
        },
      });
    });
    afterAll(async () => {
      await h?.close();
      disk?.close();
    });

    it("succeeds on KIE's URL, charged once and viewable; copied with the same bytes once space returns", async () => {
      const { token } = await h.signIn();
      // 24 KiB left for a 300 kB result: the spool write runs out of space mid-way.
      const full = disk.fill(24 * 1024);
      let body: { taskId: string; imageUrl: string; imageStored: boolean; sourceUrl: string };
      try {
        const response = await h.fetch("/api/generate", {
          method: "POST",
          token,
          headers: { "content-type": "application/json", prefer: "wait" },
          body: JSON.stringify({ prompt: "[sim:result=oversize=300000] a banana on a full disk" }),
        });
        body = await response.json();
        expect(response.status, JSON.stringify(body)).toBe(200);
        expect(body.imageStored).toBe(false);
        const row = await jobRow(getDb(), body.taskId);
        expect(row.status).toBe("succeeded");
        expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
        expect(await creditsOf(h, token)).toBe(2);

        // The owner sees it meanwhile: our link reads KIE's file through.
        const served = await h.fetch(new URL(body.imageUrl, "http://localhost").pathname, { token });
        expect(served.status).toBe(200);
        const original = Buffer.from(await (await fetch(body.sourceUrl)).arrayBuffer());
        expect(sha(Buffer.from(await served.arrayBuffer()))).toBe(sha(original));

        // Still full: the reconciler tries, fails, and keeps the job for later (not "gone").
        await makeDue(h, row.id);
        expect((await h.app.sweep()).imagesCopied).toBe(0);
        const after = await jobRow(getDb(), body.taskId);
        expect(after.imageStoredAt).toBeNull();
        expect(after.imageAttempts).toBe(1);
        expect(Number.isFinite(after.imageRetryAt?.getTime() ?? Number.NaN)).toBe(true); // not given up
      } finally {
        full.free();
      }

      const row = await jobRow(getDb(), body.taskId);
      await makeDue(h, row.id);
      expect((await h.app.sweep()).imagesCopied).toBe(1);
      const stored = await jobRow(getDb(), body.taskId);
      const original = Buffer.from(await (await fetch(body.sourceUrl)).arrayBuffer());
      expect(stored.imageBytes).toBe(original.byteLength);
      expect(stored.imageSha256).toBe(sha(original));
      expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });

      h.sim.setFaults("files:http=404"); // KIE's copy gone: ours serves
      try {
        const served = await h.fetch(new URL(body.imageUrl, "http://localhost").pathname, { token });
        expect(served.status).toBe(200);
        expect(sha(Buffer.from(await served.arrayBuffer()))).toBe(sha(original));
      } finally {
        h.sim.setFaults([]);
      }
    });
  });
});

/** The reconciler backs off after a failed copy; make the next try due now. */
async function makeDue(h: Harness, jobId: string): Promise<void> {
  await h.app.database.db
    .update(generations)
    .set({ imageRetryAt: sql`now()` })
    .where(eq(generations.id, jobId));
}
