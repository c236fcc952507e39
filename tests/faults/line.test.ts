/**
 * The line survives a kill -9 (issue 23, docs/JOBS.md "The line"): the production server is
 * killed with 20 jobs waiting in line for KIE's create budget and started again on the same
 * Postgres database; every one of them is sent to KIE exactly once (counted at the sim) and
 * succeeds, and the ledger balances.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { type NextServer, startNextServer } from "../helpers/nextServer";
import { freePort } from "../helpers/server";
import {
  createTestDatabase,
  eventually,
  expectSettledAndBalanced,
  json,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";

const IN_LINE = 20;

describe.skipIf(!TEST_DATABASE_URL)("faults: the server is killed (SIGKILL) with jobs in line", () => {
  let sim: RunningKieSim;
  let database: TestDatabase;
  let server: NextServer | undefined;
  let dataDir: string;
  beforeAll(async () => {
    sim = await startKieSim({
      stepMs: 100,
      recordDelayMs: 50,
      imageScale: 0.125,
      logger: false,
      // KIE's own limit, so a create sent past our budget would show as refused.
      createTaskRateLimit: { limit: 20, windowMs: 10_000 },
    });
    database = await createTestDatabase("postgres");
    dataDir = mkdtempSync(path.join(tmpdir(), "nb-line-crash-"));
  });
  afterAll(async () => {
    await server?.stop();
    await sim?.close();
    await database?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const environment = (port: number, createLimit: string) => ({
    PORT: String(port),
    DATA_DIR: dataDir,
    APP_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.databaseUrl as string,
    IMAGE_URL_SECRET: "line-crash-image-link-secret-0123456789abcdef",
    KIE_BASE_URL: sim.url,
    KIE_UPLOAD_BASE_URL: sim.url,
    KIE_API_KEY: "",
    SUPABASE_URL: "",
    SUPABASE_JWT_SECRET: "",
    DEV_SIGN_IN: "true",
    REDIS_URL: "",
    RATE_LIMIT_IP_PER_MINUTE: "1000",
    RATE_LIMIT_PER_MINUTE: "1000",
    CREDITS_INITIAL: "50",
    KIE_CREATE_LIMIT: createLimit,
  });

  it("after the restart every queued job is sent to KIE exactly once and succeeds; the ledger balances", async () => {
    const port = await freePort();
    // One create per 22 s: at most the first request finds a token; the next 20 wait in line.
    server = await startNextServer(port, environment(port, "2/20s"));
    const signIn = await fetch(`${server.url}/api/auth/dev`, json({ email: "line-crash@example.com" }));
    const token = (await signIn.json()).accessToken as string;
    const send = async (n: number) => {
      const response = await fetch(`${server?.url}/api/generate`, {
        ...json({ prompt: `line crash ${n}` }, { authorization: `Bearer ${token}`, prefer: "respond-async" }),
      });
      expect(response.status).toBe(202);
      return (await response.json()).taskId as string;
    };
    const first = await send(0);
    const taskIds = [first, ...(await Promise.all(Array.from({ length: IN_LINE }, (_, i) => send(i + 1))))];
    const queued = await database.database.db.$count(generations, eq(generations.status, "queued"));
    expect(queued).toBeGreaterThanOrEqual(IN_LINE);
    await server.kill9();
    server = undefined;

    // The same server again, with KIE's usual budget: the line left behind is drained.
    server = await startNextServer(port, environment(port, "20/10s"));
    const prompts = await eventually(
      "every job to reach KIE",
      () => sim.tasks().map((task) => task.prompt),
      (sent) => sent.length >= IN_LINE + 1,
      { attempts: 240, intervalMs: 500 },
    );
    await expectSettledAndBalanced(database.database, { attempts: 120, intervalMs: 500 });

    // Exactly once each: 21 creates, one per prompt, none refused by KIE.
    expect(sim.stats().calls.createTask).toBe(IN_LINE + 1);
    expect(new Set(prompts).size).toBe(IN_LINE + 1);
    expect(sim.limits().createTask.refused).toBe(0);
    const rows = await database.database.db.select({ status: generations.status }).from(generations);
    expect(rows.map((r) => r.status)).toEqual(taskIds.map(() => "succeeded"));
    // The user paid once per image.
    const credits = await fetch(`${server.url}/api/credits`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect((await credits.json()).balance).toBe(50 - (IN_LINE + 1));
  }, 240_000);
});
