/**
 * A same-key retry never pays twice (issue 10, items 2 and 3; DESIGN.md §3):
 * - the key's lease is derived from the limits of the request it guards, so a long sync wait
 *   (KIE_POLL_BUDGET_MS past 5 minutes) still holds its key: a retry meanwhile is 409;
 * - a request that stopped mid-way (serverless time limit, crash) leaves its job on the key: a
 *   retry after the lease answers from that job — the same taskId, one reserve, one KIE task.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { and, eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { generations, idempotencyKeys } from "@/lib/db";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, describeEachDatabase, TEST_DATABASE_URL } from "../../helpers/database";
import { creditsOf } from "../generate/generateKit";
import { eventually, ledgerOf } from "./jobKit";

describeEachDatabase("jobs: Idempotency-Key retries after a stopped request", (getDb) => {
  let h: Harness | undefined;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await h?.close();
    h = undefined;
  });

  /** Starts a sync generate that will not finish (KIE's reads hang); returns once its job has a KIE task. */
  async function stuckRequest(harness: Harness, token: string, userId: string, key: string) {
    harness.sim.setFaults("recordInfo:hang");
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const pending = harness
      .fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "wait", "idempotency-key": key },
        body: JSON.stringify({ prompt: "a request that will not come back" }),
        signal: controller.signal,
      })
      .catch(() => undefined);
    void pending;
    const [job] = await eventually(
      "the job to have its KIE task",
      () => getDb().db.select().from(generations).where(eq(generations.userId, userId)),
      (rows) => rows.length === 1 && rows[0]?.kieTaskId !== null,
    );
    return job as NonNullable<typeof job>;
  }

  const keyRow = async (userId: string, key: string) => {
    const [row] = await getDb()
      .db.select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
    return row;
  };

  const retry = (harness: Harness, token: string, key: string) =>
    harness.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "respond-async", "idempotency-key": key },
      body: JSON.stringify({ prompt: "a request that will not come back" }),
    });

  it("a retry after the lease of a request that stopped mid-way answers from its job: same taskId, one charge", async () => {
    const harness = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: "60000" } });
    h = harness;
    const { token, userId } = await harness.signIn();
    const job = await stuckRequest(harness, token, userId, "died-1");
    // The key row names the job from the moment its credits were reserved.
    expect((await keyRow(userId, "died-1"))?.generationId).toBe(job.id);

    // The first request is gone for good (its instance was frozen or killed); its lease ends.
    await getDb()
      .db.update(idempotencyKeys)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, "died-1")));

    const response = await retry(harness, token, "died-1");
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(202);
    expect(body).toMatchObject({ taskId: job.kieTaskId, status: "pending", remainingCredits: 9 });
    expect(harness.sim.stats().calls.createTask).toBe(1);
    expect(await ledgerOf(getDb(), job.id)).toEqual({ reserve: 1 });
    expect(await creditsOf(harness, token)).toBe(9);
    // And the retry's answer is what later retries replay.
    const again = await retry(harness, token, "died-1");
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await again.json()).taskId).toBe(job.kieTaskId);
    harness.sim.setFaults([]);
  });

  it("the key's lease covers a sync budget past 5 minutes: a retry 5 min 1 s in is 409, not a second job", async () => {
    const budgetMs = 400_000;
    const harness = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: String(budgetMs) } });
    h = harness;
    const { token, userId } = await harness.signIn();
    const job = await stuckRequest(harness, token, userId, "long-1");
    const held = await keyRow(userId, "long-1");
    expect((held?.expiresAt.getTime() ?? 0) - (held?.createdAt.getTime() ?? 0)).toBeGreaterThan(budgetMs);

    // Five minutes and a second pass (the old fixed lease), the request still running.
    await getDb()
      .db.update(idempotencyKeys)
      .set({ expiresAt: sql`${idempotencyKeys.expiresAt} - interval '301 seconds'` })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, "long-1")));

    const response = await retry(harness, token, "long-1");
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(409);
    expect(body.error.code).toBe("idempotency_key_in_progress");
    expect(harness.sim.stats().calls.createTask).toBe(1);
    expect(await ledgerOf(getDb(), job.id)).toEqual({ reserve: 1 });
    harness.sim.setFaults([]);
  });
});

describe.skipIf(!TEST_DATABASE_URL)(
  `jobs: a same-key retry after kill -9 [postgres]${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    it("the first request's process is killed mid-way; after the lease a retry answers from its job, one charge", async () => {
      const test = await createTestDatabase("postgres");
      const dataDir = mkdtempSync(path.join(tmpdir(), "nb-die-"));
      let h: Harness | undefined;
      try {
        h = await startHarness({ database: test.database, env: { KIE_POLL_BUDGET_MS: "60000" } });
        h.sim.setFaults("recordInfo:hang");
        const email = `killed-${Date.now()}@example.com`;
        const prompt = "a request whose server is killed";
        const child = spawn(
          process.execPath,
          ["--import", "tsx", path.join(import.meta.dirname, "fixtures", "generate-then-die.ts")],
          {
            cwd: path.resolve(import.meta.dirname, "../../.."),
            env: {
              ...process.env,
              DATABASE_URL: test.databaseUrl,
              IMAGE_URL_SECRET: "idempotent-retry-image-link-secret-0123456789",
              DEV_SIGN_IN: "true",
              DATA_DIR: dataDir,
              KIE_API_KEY: "",
              KIE_BASE_URL: h.sim.url,
              KIE_UPLOAD_BASE_URL: h.sim.url,
              KIE_POLL_BUDGET_MS: "60000",
              APP_URL: "",
              LOG_LEVEL: "warn",
              EMAIL: email,
              IDEMPOTENCY_KEY: "killed-1",
              PROMPT: prompt,
            },
            stdio: "ignore",
          },
        );
        const exited = new Promise((resolve) => child.on("exit", resolve));
        const [job] = await eventually(
          "the child's job to have its KIE task",
          () => test.database.db.select().from(generations),
          (rows) => rows.length === 1 && rows[0]?.kieTaskId !== null,
          { attempts: 600, intervalMs: 100 },
        );
        child.kill("SIGKILL");
        await exited;
        if (!job) throw new Error("no job");

        // Its lease ends (it would after the request's own limits; here at once).
        await test.database.db
          .update(idempotencyKeys)
          .set({ expiresAt: sql`now() - interval '1 second'` })
          .where(eq(idempotencyKeys.key, "killed-1"));
        const { token, userId } = await h.signIn(email);
        expect(userId).toBe(job.userId);
        const response = await h.fetch("/api/generate", {
          method: "POST",
          token,
          headers: {
            "content-type": "application/json",
            prefer: "respond-async",
            "idempotency-key": "killed-1",
          },
          body: JSON.stringify({ prompt }),
        });
        const body = await response.json();
        expect(response.status, JSON.stringify(body)).toBe(202);
        expect(body.taskId).toBe(job.kieTaskId);
        expect(h.sim.stats().calls.createTask).toBe(1);
        expect(await ledgerOf(test.database, job.id)).toEqual({ reserve: 1 });
        expect(await creditsOf(h, token)).toBe(9);
      } finally {
        h?.sim.setFaults([]);
        await h?.close();
        await test.dispose();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }, 180_000);
  },
);
