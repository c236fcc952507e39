/**
 * The disk fills up in the middle of copies (issue 22, DESIGN.md §9): DATA_DIR is a small tmpfs,
 * results stream in slowly, and the disk is filled while they are being written. No paid job
 * fails for it: each succeeds on KIE's URL, charged once, and its owner can load the image; once
 * space returns the reconciler stores every one. Ends with a balanced ledger.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { spoolDirOf } from "@/lib/storage";
import { mountTmpfs, skipWithoutTmpfs, type Tmpfs } from "../helpers/tmpfs";
import {
  createTestDatabase,
  eventually,
  expectSettledAndBalanced,
  type Harness,
  json,
  pollUntilFinal,
  startHarness,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const JOBS = 4;
const RESULT_BYTES = 300_000;

const noTmpfs = skipWithoutTmpfs("faults: disk full mid-copy");
describe.skipIf(!TEST_DATABASE_URL || noTmpfs)(
  `faults: disk full mid-copy${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: TestDatabase;
    let disk: Tmpfs;
    let h: Harness;
    beforeAll(async () => {
      database = await createTestDatabase("postgres");
      disk = mountTmpfs(4 * 1024 * 1024);
      h = await startHarness({
        database: database.database,
        callbacks: true,
        env: {
          DATA_DIR: path.join(disk.dir, "data"),
          IMAGE_URL_SECRET: "disk-full-fault-secret-0123456789abcdef",
          RATE_LIMIT_PER_MINUTE: "1000",
        },
      });
    });
    afterAll(async () => {
      await h?.close();
      disk?.close();
      await database?.dispose();
    });

    it("copies that run out of space succeed on KIE's URL, viewable, and are stored once space returns", async () => {
      const { token } = await h.signIn();
      // KIE's files arrive at 150 kB/s: each 300 kB copy takes about 2 s.
      h.sim.setFaults("files:slow=150000");
      const taskIds: string[] = [];
      for (let i = 0; i < JOBS; i++) {
        const response = await h.fetch("/api/generate", {
          token,
          ...json(
            { prompt: `[sim:result=oversize=${RESULT_BYTES}] banana ${i}` },
            { prefer: "respond-async" },
          ),
        });
        const body = await response.json();
        expect(response.status, JSON.stringify(body)).toBe(202);
        taskIds.push(body.taskId);
      }

      // Fill the disk once a copy is under way.
      const spool = spoolDirOf(h.app.config.dataDir, "results");
      await eventually(
        "a copy to be under way",
        () =>
          existsSync(spool) ? readdirSync(spool).map((name) => statSync(path.join(spool, name)).size) : [],
        (sizes) => sizes.some((size) => size > 0),
        { attempts: 400, intervalMs: 25 },
      );
      const full = disk.fill();
      let finals: { status: string; imageUrl?: string; sourceUrl?: string; imageStored?: boolean }[];
      try {
        finals = (await pollUntilFinal(h, token, taskIds)) as typeof finals;
        // Not one paid job failed for our disk; each is charged once and viewable meanwhile.
        expect(finals.map((final) => final.status)).toEqual(taskIds.map(() => "succeeded"));
        expect(finals.some((final) => final.imageStored === false)).toBe(true);
        await expectSettledAndBalanced(database.database);
        h.sim.setFaults([]);
        for (const final of finals) await expectLoadable(h, token, final.imageUrl as string, final.sourceUrl);
      } finally {
        full.free();
      }

      // Space is back: the reconciler's copy-later stores every one.
      await database.database.db
        .update(generations)
        .set({ imageRetryAt: sql`now()` })
        .where(eq(generations.status, "succeeded"));
      await h.app.sweep();
      const rows = await database.database.db.select().from(generations);
      expect(rows.map((row) => row.imageStoredAt !== null)).toEqual(rows.map(() => true));
      h.sim.setFaults("files:http=404"); // KIE's copies are gone: ours serve
      try {
        for (const final of finals) {
          const row = rows.find((r) => r.resultUrls?.[0] === final.sourceUrl);
          expect(row?.imageBytes).toBe(RESULT_BYTES);
          const served = await expectLoadable(h, token, final.imageUrl as string);
          expect(sha(served)).toBe(row?.imageSha256);
        }
      } finally {
        h.sim.setFaults([]);
      }
      await expectSettledAndBalanced(database.database);
    });
  },
);

/** The owner loads the image through our link; with `sourceUrl`, the bytes are KIE's. */
async function expectLoadable(
  h: Harness,
  token: string,
  imageUrl: string,
  sourceUrl?: string,
): Promise<Buffer> {
  const link = new URL(imageUrl, "http://localhost");
  const response = await h.fetch(`${link.pathname}${link.search}`, { token });
  expect(response.status, imageUrl).toBe(200);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (sourceUrl) expect(sha(bytes)).toBe(sha(Buffer.from(await (await fetch(sourceUrl)).arrayBuffer())));
  return bytes;
}
