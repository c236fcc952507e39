/**
 * KIE misbehaving (kie-sim's fault rules): hangs, slow uploads, malformed answers, an ambiguous
 * createTask, a 429 on createTask. The user gets a clean answer, and every scenario ends with
 * every job settled and a balanced ledger (charged only for delivered images, never twice).
 */
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createTestDatabase,
  creditsOf,
  eventually,
  expectBalanced,
  expectSettledAndBalanced,
  type Harness,
  json,
  pollUntilFinal,
  startHarness,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";

describe.skipIf(!TEST_DATABASE_URL)(
  `faults: KIE${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: TestDatabase;
    let h: Harness | undefined;
    beforeAll(async () => {
      database = await createTestDatabase("postgres");
    });
    afterAll(async () => {
      await database?.dispose();
    });
    beforeEach(async () => {
      await database.truncate();
    });
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    const start = async (options: Omit<Parameters<typeof startHarness>[0], "database">) => {
      h = await startHarness({ database: database.database, ...options });
      return { h, ...(await h.signIn()) };
    };
    const generate = (harness: Harness, token: string, prompt: string, prefer = "respond-async") =>
      harness.fetch("/api/generate", { token, ...json({ prompt }, { prefer }) });

    it("createTask hangs: with callbacks the answer is a prompt 502 with the job's id, and the job is released on time", async () => {
      const { h, token } = await start({
        callbacks: true,
        env: { KIE_REQUEST_TIMEOUT_MS: "800", KIE_TIMEOUT_MS: "1500" },
      });
      h.sim.setFaults("createTask:hang;times=1");
      const started = Date.now();
      const response = await generate(h, token, "a hanging request");
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(502);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(body.error).toMatchObject({ code: "upstream_error", taskId: expect.any(String) });
      await expectBalanced(database.database);
      expect(await creditsOf(h, token)).toBe(9); // held: KIE may have created the task

      // No callback ever comes: the reconciler gives up after KIE_TIMEOUT_MS and returns the credits.
      await eventually(
        "the reconciler to settle the job",
        () => h.app.sweep(),
        (s) => s.settled === 1,
        {
          attempts: 60,
          intervalMs: 100,
        },
      );
      expect((await pollUntilFinal(h, token, [body.error.taskId]))[0]?.status).toBe("timeout");
      expect(await creditsOf(h, token)).toBe(10);
      await expectSettledAndBalanced(database.database);
    });

    it("status reads hang: polls still answer within the request timeout, and the job settles once KIE answers", async () => {
      const { h, token } = await start({ env: { KIE_REQUEST_TIMEOUT_MS: "600" } });
      const accepted = await (await generate(h, token, "[sim:delay=300] status hangs")).json();
      h.sim.setFaults("recordInfo:hang");
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const started = Date.now();
      const during = await (await h.fetch(`/api/generate/${accepted.taskId}`, { token })).json();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(["pending", "processing"]).toContain(during.status);

      h.sim.setFaults([]);
      expect((await pollUntilFinal(h, token, [accepted.taskId]))[0]?.status).toBe("succeeded");
      expect(await creditsOf(h, token)).toBe(9);
      await expectSettledAndBalanced(database.database);
    });

    it("slow uploads to KIE: a multipart edit still succeeds and is charged once", async () => {
      const { h, token } = await start({ env: { KIE_REQUEST_TIMEOUT_MS: "20000" } });
      h.sim.setFaults("upload:slow=100000");
      // Noise does not compress: ~58 kB per file, about half a second each at 100 kB/s.
      const image = await sharp(randomBytes(160 * 120 * 3), { raw: { width: 160, height: 120, channels: 3 } })
        .png()
        .toBuffer();
      const form = new FormData();
      form.set("prompt", "slowly uploaded");
      for (let i = 0; i < 2; i++)
        form.append("images", new Blob([new Uint8Array(image)], { type: "image/png" }), `${i}.png`);
      const response = await h.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { prefer: "wait" },
        body: form,
      });
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
      expect(h.sim.stats().calls.fileStreamUpload + h.sim.stats().calls.fileBase64Upload).toBe(2);
      await expectSettledAndBalanced(database.database);
    });

    it("malformed answers: an unreadable createTask answer refunds at once; unreadable status reads are outlasted", async () => {
      const { h, token } = await start({});
      for (const fault of ["malformed", "malformed=html"]) {
        h.sim.setFaults(`createTask:${fault};times=1`);
        const response = await generate(h, token, `refused by ${fault}`);
        expect(response.status).toBe(502);
        expect((await response.json()).error.code).toBe("upstream_error");
        expect(await creditsOf(h, token)).toBe(10);
      }

      const accepted = await (await generate(h, token, "[sim:delay=200] read through garbage")).json();
      h.sim.setFaults("recordInfo:malformed;times=3");
      expect((await pollUntilFinal(h, token, [accepted.taskId]))[0]?.status).toBe("succeeded");
      expect(h.sim.faults()[0]?.remaining).toBe(0); // the garbage was really served
      expect(await creditsOf(h, token)).toBe(9);
      await expectSettledAndBalanced(database.database);
    });

    it("ambiguous createTask (task created, answer lost): settled by its callback, charged once; without callbacks refunded at once", async () => {
      const withCallbacks = await start({ callbacks: true });
      withCallbacks.h.sim.setFaults("createTask:reset;after;times=1");
      const response = await generate(withCallbacks.h, withCallbacks.token, "[sim:delay=300] in doubt");
      const body = await response.json();
      expect(response.status).toBe(502);
      expect(withCallbacks.h.sim.tasks()).toHaveLength(1);
      expect(
        (await pollUntilFinal(withCallbacks.h, withCallbacks.token, [body.error.taskId]))[0]?.status,
      ).toBe("succeeded");
      expect(await creditsOf(withCallbacks.h, withCallbacks.token)).toBe(9);
      await expectSettledAndBalanced(database.database);
      await withCallbacks.h.close();

      const { h, token } = await start({});
      h.sim.setFaults("createTask:reset;after;times=1");
      expect((await generate(h, token, "in doubt, no callbacks")).status).toBe(502);
      expect(await creditsOf(h, token)).toBe(10);
      await expectSettledAndBalanced(database.database);
    });

    it("KIE 429 on createTask: the job waits in line and is sent again after Retry-After; one task, one charge", async () => {
      const { h, token } = await start({});
      h.sim.setFaults("createTask:http=429;retry-after=1;times=1");
      const started = Date.now();
      const response = await generate(h, token, "rate limited once", "wait");
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(h.sim.stats().calls.createTask).toBe(2);
      expect(h.sim.tasks()).toHaveLength(1);
      expect(body).toMatchObject({ status: "succeeded", remainingCredits: 9 });

      // An async request is not refused either: KIE created nothing, so the job waits in line
      // (credits reserved) and is sent once KIE's Retry-After has passed.
      h.sim.setFaults("createTask:http=429;retry-after=2;times=1");
      const queued = await generate(h, token, "rate limited, async");
      const queuedBody = await queued.json();
      expect(queued.status, JSON.stringify(queuedBody)).toBe(202);
      expect(queuedBody).toMatchObject({ status: "pending", queuePosition: 1 });
      expect(await creditsOf(h, token)).toBe(8);
      expect((await pollUntilFinal(h, token, [queuedBody.taskId]))[0]?.status).toBe("succeeded");
      expect(h.sim.tasks()).toHaveLength(2);
      expect(await creditsOf(h, token)).toBe(8);
      await expectSettledAndBalanced(database.database);
    });
  },
);
