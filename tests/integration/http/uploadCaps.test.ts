/**
 * Uploads bounded in number, idle time and disk (issue 24 item 2, DESIGN.md §3 "Requests"), over
 * real HTTP on loopback against the app's route handlers (bodies streamed in as by `next start`):
 * uploads that never send their end used to be read, and spooled, without limit until the 300 s
 * request timeout. Now at most UPLOADS_PER_USER_MAX per user and UPLOADS_IN_FLIGHT_MAX in all are
 * read at once, the rest are refused at once (429 / 503, Retry-After), a body that stops arriving
 * is given up after UPLOAD_IDLE_TIMEOUT_MS (408, spool removed), and nothing refused is charged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { spoolDirOf } from "@/lib/storage";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, type TestDatabase } from "../../helpers/database";
import { bytesUnder, entriesIn, type HeldUpload, holdUpload, MiB } from "../../helpers/heldUploads";
import { creditsOf, eventually } from "../../helpers/probes";

const IN_FLIGHT_MAX = 8;
const PER_USER_MAX = 2;
const IDLE_MS = 5000;
const SENT = 2 * MiB;

let testDb: TestDatabase;
let h: Harness;
const spoolDir = () => spoolDirOf(h.app.config.dataDir, "uploads");

beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  h = await startHarness({
    database: testDb.database,
    callbacks: true, // served over HTTP on 127.0.0.1
    env: {
      UPLOADS_IN_FLIGHT_MAX: String(IN_FLIGHT_MAX),
      UPLOADS_PER_USER_MAX: String(PER_USER_MAX),
      UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS),
      RATE_LIMIT_IP_PER_MINUTE: "100000",
      RATE_LIMIT_PER_MINUTE: "1000",
    },
  });
});

afterAll(async () => {
  await h?.close();
  await testDb?.dispose();
});

/** Uploads refused by the caps (429 / 503), as opposed to read and then given up (408). */
const refusedOf = (uploads: HeldUpload[]) =>
  uploads.filter((upload) => upload.answer && upload.answer.status !== 408);

async function jobCount(): Promise<number> {
  return testDb.database.db.$count(generations);
}

describe("uploads that never finish", () => {
  it("50 at once: the caps hold, spooled bytes stay under them, others are served; the idle timeout ends the rest", async () => {
    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => h.signIn(`held-${i}@example.com`)));
    // Half the users send files (spooled to disk), half data URIs in JSON (held in memory).
    const uploads = users.flatMap(({ token }, u) =>
      Array.from({ length: 5 }, () =>
        u % 2 === 0
          ? holdUpload(h.url!, token, { kind: "multipart", sentBytes: SENT })
          : holdUpload(h.url!, token, { kind: "json", sentBytes: SENT, declaredBytes: 12 * MiB }),
      ),
    );
    // Everything beyond the caps is answered at once, long before the idle timeout.
    await eventually(
      "the uploads beyond the caps to be refused",
      () => refusedOf(uploads).length,
      (n) => n >= 50 - IN_FLIGHT_MAX,
      { attempts: 150, intervalMs: 20 },
    );
    const refused = refusedOf(uploads);
    expect(refused).toHaveLength(50 - IN_FLIGHT_MAX);
    for (const { answer } of refused) {
      expect([429, 503]).toContain(answer!.status);
      expect(Number(answer!.headers["retry-after"])).toBeGreaterThan(0);
      expect(JSON.parse(answer!.body).error.code).toBe(
        answer!.status === 429 ? "rate_limited" : "service_unavailable",
      );
    }
    for (const upload of refused) upload.abort(); // done with them: no drain left behind
    const heldPerUser = users.map(
      (_, u) => uploads.slice(u * 5, u * 5 + 5).filter((x) => !refused.includes(x)).length,
    );
    expect(Math.max(...heldPerUser)).toBeLessThanOrEqual(PER_USER_MAX);
    expect(h.app.uploads.inFlight().total).toBe(IN_FLIGHT_MAX);
    // What is spooled: at most the held multipart uploads' bytes, far under the stated cap.
    expect(bytesUnder(spoolDir())).toBeLessThanOrEqual(IN_FLIGHT_MAX * SENT);
    expect(entriesIn(spoolDir())).toBeLessThanOrEqual(IN_FLIGHT_MAX);

    // Someone else is still served: their balance, and a text generation (a small body).
    const other = await h.signIn("other@example.com");
    const balance = await fetch(`${h.url}/api/credits`, {
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(balance.status).toBe(200);
    const text = await fetch(`${h.url}/api/generate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${other.token}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ prompt: "served while uploads are held" }),
    });
    expect(text.status).toBe(202);

    // The held ones send nothing more: given up after the idle timeout, with a 408 they can read.
    const held = uploads.filter((upload) => !refused.includes(upload));
    const endings = await Promise.all(held.map((upload) => upload.answered));
    for (const ending of endings) {
      expect(ending.status).toBe(408);
      expect(ending.headers.connection).toBe("close");
      expect(JSON.parse(ending.body).error.code).toBe("request_timeout");
    }
    await eventually(
      "the spools to be removed",
      () => entriesIn(spoolDir()),
      (n) => n === 0,
    );
    expect(h.app.uploads.inFlight()).toEqual({ total: 0, users: 0 });
    // Nothing was charged to anyone who uploaded: no job, every balance untouched.
    expect(await jobCount()).toBe(1); // the other user's text generation
    for (const { token } of users) expect(await creditsOf(h, token)).toBe(h.app.config.credits.initial);
  }, 60_000);
});

describe("whose upload it is", () => {
  it("the per-user cap follows the signed-in user, whatever X-Forwarded-For says; no sign-in, no slot", async () => {
    const { token } = await h.signIn("one-user@example.com");
    const mine = [0, 1].map((i) =>
      holdUpload(h.url!, token, { sentBytes: 256 * 1024, headers: { "x-forwarded-for": `203.0.113.${i}` } }),
    );
    await eventually(
      "both to be read",
      () => h.app.uploads.inFlight().total,
      (n) => n === 2,
    );
    const third = holdUpload(h.url!, token, {
      sentBytes: 1024,
      headers: { "x-forwarded-for": "198.51.100.7" },
    });
    expect((await third.answered).status).toBe(429);
    third.abort();

    const anonymous = Array.from({ length: 10 }, () => holdUpload(h.url!, "", { sentBytes: 1024 }));
    for (const upload of anonymous) {
      expect((await upload.answered).status).toBe(401);
      upload.abort();
    }
    expect(h.app.uploads.inFlight()).toEqual({ total: 2, users: 1 });

    // A client that gives up frees its slot at once (no leak): the user may upload again.
    mine[0]!.abort();
    await eventually(
      "the aborted upload's slot to be free",
      () => h.app.uploads.inFlight().total,
      (n) => n === 1,
    );
    const again = holdUpload(h.url!, token, { sentBytes: 1024 });
    await eventually(
      "the new upload to be read",
      () => h.app.uploads.inFlight().total,
      (n) => n === 2,
    );
    expect(again.answer).toBeUndefined();
    again.abort();
    mine[1]!.abort();
    await eventually(
      "every slot to be free",
      () => h.app.uploads.inFlight(),
      (n) => n.total === 0 && n.users === 0,
    );
    await eventually(
      "the spools to be removed",
      () => entriesIn(spoolDir()),
      (n) => n === 0,
    );
  }, 30_000);
});

describe("small bodies", () => {
  it("a body that declares at most 64 KiB cannot dodge the per-user cap; small ones are not held up by large ones", async () => {
    const { token } = await h.signIn("small-bodies@example.com");
    const small = Array.from({ length: 5 }, (_, i) =>
      holdUpload(h.url!, token, {
        kind: i % 2 === 0 ? "multipart" : "json",
        sentBytes: 1024,
        declaredBytes: 60 * 1024,
      }),
    );
    await eventually(
      "the small uploads beyond the user's cap to be refused",
      () => refusedOf(small).length,
      (n) => n >= 5 - PER_USER_MAX,
      { attempts: 150, intervalMs: 20 },
    );
    expect(refusedOf(small).map((upload) => upload.answer!.status)).toEqual([429, 429, 429]);
    // Large uploads of others fill their pool; a small request of someone else is still read.
    const others = await Promise.all(Array.from({ length: 4 }, (_, i) => h.signIn(`large-${i}@example.com`)));
    const large = others.flatMap(({ token: other }) =>
      [0, 1].map(() => holdUpload(h.url!, other, { sentBytes: 64 * 1024 })),
    );
    await eventually(
      "the large uploads to be read",
      () => h.app.uploads.inFlight().total,
      (n) => n === 8 + 2,
    );
    const text = await fetch(`${h.url}/api/generate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${others[0]!.token}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ prompt: "a small request beside large uploads" }),
    });
    expect(text.status).toBe(202);
    for (const upload of [...small, ...large]) upload.abort();
    await eventually(
      "every slot to be free",
      () => h.app.uploads.inFlight().total,
      (n) => n === 0,
    );
  }, 30_000);
});

describe("free disk", () => {
  it("below UPLOADS_MIN_FREE_DISK_MB, an upload gets 503 with Retry-After and is not charged; text still works", async () => {
    const db = await createTestDatabase("pglite");
    const low = await startHarness({
      database: db.database,
      callbacks: true,
      env: { UPLOADS_MIN_FREE_DISK_MB: "1000000000", RATE_LIMIT_IP_PER_MINUTE: "1000" },
    });
    try {
      const { token } = await low.signIn("disk@example.com");
      for (const sentBytes of [1024, 3 * MiB]) {
        const upload = holdUpload(low.url!, token, { sentBytes, declaredBytes: sentBytes + 200 });
        const answer = await upload.answered;
        expect(answer.status).toBe(503);
        expect(Number(answer.headers["retry-after"])).toBeGreaterThan(0);
        expect(JSON.parse(answer.body).error.message).toMatch(/disk/i);
        upload.abort();
      }
      expect(entriesIn(spoolDirOf(low.app.config.dataDir, "uploads"))).toBe(0);
      expect(await creditsOf(low, token)).toBe(low.app.config.credits.initial);
      const text = await low.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "respond-async" },
        body: JSON.stringify({ prompt: "no upload, no disk needed" }),
      });
      expect(text.status).toBe(202);
    } finally {
      await low.close();
      await db.dispose();
    }
  }, 30_000);
});
