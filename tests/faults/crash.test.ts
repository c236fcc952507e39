/**
 * The production server killed with SIGKILL in the middle of jobs, then started again on the same
 * database: every job settles (a poll, KIE's callback or the reconciler) and the ledger balances.
 * On Postgres (shared by instances) and on the embedded PGlite folder (whose lock the dead process
 * still names). Also a client that uploads slowly, and one that gives up mid-upload.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { auditLedger, describeAudit } from "@/lib/credits";
import { generations, openDatabase } from "@/lib/db";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { type NextServer, startNextServer } from "../helpers/nextServer";
import { freePort } from "../helpers/server";
import {
  createTestDatabase,
  eventually,
  expectSettledAndBalanced,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";

type Status = { status: string };

async function signIn(url: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/dev`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `crash-${Date.now()}@example.com` }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).accessToken;
}

async function generate(url: string, token: string, prompt: string): Promise<string> {
  const response = await fetch(`${url}/api/generate`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      prefer: "respond-async",
    },
    body: JSON.stringify({ prompt }),
  });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(202);
  return body.taskId;
}

const statusOf = async (url: string, token: string, taskId: string): Promise<Status> =>
  (await fetch(`${url}/api/generate/${taskId}`, { headers: { authorization: `Bearer ${token}` } })).json();

const finished = (url: string, token: string, taskId: string) =>
  eventually(
    `task ${taskId} to finish`,
    () => statusOf(url, token, taskId),
    (s) => s.status !== "pending" && s.status !== "processing",
    { attempts: 100, intervalMs: 200 },
  );

describe("faults: the server is killed (SIGKILL) mid-job and restarted", () => {
  let sim: RunningKieSim;
  let server: NextServer | undefined;
  const dataDirs: string[] = [];
  beforeAll(async () => {
    sim = await startKieSim({ stepMs: 100, recordDelayMs: 50, imageScale: 0.125, logger: false });
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(async () => {
    await sim?.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  const environment = (port: number, dataDir: string, extra: Record<string, string> = {}) => ({
    PORT: String(port),
    DATA_DIR: dataDir,
    APP_URL: `http://127.0.0.1:${port}`,
    KIE_BASE_URL: sim.url,
    KIE_UPLOAD_BASE_URL: sim.url,
    KIE_API_KEY: "",
    SUPABASE_URL: "",
    SUPABASE_JWT_SECRET: "",
    DEV_SIGN_IN: "true",
    REDIS_URL: "",
    RATE_LIMIT_IP_PER_MINUTE: "1000",
    // These scenarios are about jobs in flight, not the line: every create goes straight to KIE
    // (tests/faults/line.test.ts kills a server with jobs in line).
    KIE_CREATE_LIMIT: "off",
    ...extra,
  });
  const newDataDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nb-crash-"));
    dataDirs.push(dir);
    return dir;
  };

  it.skipIf(!TEST_DATABASE_URL)(
    "on Postgres: jobs in flight settle after the restart, one polled, one left to the reconciler",
    async () => {
      const database: TestDatabase = await createTestDatabase("postgres");
      try {
        await crashOnPostgres(database);
      } finally {
        await server?.stop();
        server = undefined;
        await database.dispose();
      }
    },
    180_000,
  );

  async function crashOnPostgres(database: TestDatabase): Promise<void> {
    const port = await freePort();
    const env = environment(port, newDataDir(), {
      DATABASE_URL: database.databaseUrl as string,
      IMAGE_URL_SECRET: "crash-test-image-link-secret-0123456789abcdef",
      KIE_TIMEOUT_MS: "8000",
    });
    server = await startNextServer(port, env);
    const token = await signIn(server.url);
    const polled = await generate(server.url, token, "[sim:delay=1500] polled after the crash");
    const unattended = await generate(server.url, token, "[sim:delay=1500] nobody asks again");
    // A createTask still on the wire when the process dies (the job row and reserve are written).
    sim.setFaults("createTask:latency=1500;times=1");
    const inFlight = fetch(`${server.url}/api/generate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ prompt: "cut off while creating" }),
    }).catch((error: unknown) => error);
    await eventually(
      "the third job row",
      () => database.database.db.$count(generations),
      (n) => n === 3,
    );
    await server.kill9();
    await inFlight;
    // KIE finishes the tasks while the server is down; their callbacks find no one.
    await eventually(
      "KIE to finish",
      () => sim.stats().tasksSucceeded,
      (n) => n >= 2,
      { intervalMs: 100 },
    );

    server = await startNextServer(port, env);
    expect((await finished(server.url, token, polled)).status).toBe("succeeded");
    // The reconciler (a timer in the restarted server) settles the rest without any client.
    await expectSettledAndBalanced(database.database, { attempts: 90, intervalMs: 500 });
    expect((await statusOf(server.url, token, unattended)).status).toBe("succeeded");
  }

  it("on the embedded database: the restart takes over the dead server's data folder and settles the job", async () => {
    const port = await freePort();
    const dataDir = newDataDir();
    const env = environment(port, dataDir, { DATABASE_URL: "" });
    server = await startNextServer(port, env);
    const token = await signIn(server.url);
    const taskId = await generate(server.url, token, "[sim:delay=1200] embedded crash");
    await server.kill9();

    server = await startNextServer(port, env);
    expect((await finished(server.url, token, taskId)).status).toBe("succeeded");
    const credits = await (
      await fetch(`${server.url}/api/credits`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    expect(credits.balance).toBe(9);
    await server.stop();
    server = undefined;
    // One process per folder: audit once the server has stopped.
    const database = await openDatabase({ dataDir });
    try {
      const audit = await auditLedger(database.db);
      expect(audit.balanced, describeAudit(audit)).toBe(true);
      expect(audit.openJobs).toBe(0);
    } finally {
      await database.close();
    }
  }, 180_000);

  it("a client uploading slowly is served; one that gives up mid-upload is charged nothing", async () => {
    const port = await freePort();
    const dataDir = newDataDir();
    server = await startNextServer(port, environment(port, dataDir, { DATABASE_URL: "" }));
    const token = await signIn(server.url);
    const body = Buffer.from(JSON.stringify({ prompt: `slowly typed ${"x".repeat(2_000)}` }));

    const send = (abortAfter?: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${server?.url}/api/generate`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": String(body.length),
            prefer: "respond-async",
          },
        });
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", (error) => (abortAfter === undefined ? reject(error) : resolve(-1)));
        let offset = 0;
        const tick = setInterval(() => {
          if (abortAfter !== undefined && offset >= abortAfter) {
            clearInterval(tick);
            req.destroy();
            return;
          }
          req.write(body.subarray(offset, offset + 100));
          offset += 100;
          if (offset >= body.length) {
            clearInterval(tick);
            req.end();
          }
        }, 40);
      });

    expect(await send()).toBe(202); // ~0.8 s of trickling
    expect(await send(1_000)).toBe(-1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const list = await (
      await fetch(`${server.url}/api/generations`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    expect(list.generations).toHaveLength(1);
    await finished(server.url, token, list.generations[0].taskId);
    const credits = await (
      await fetch(`${server.url}/api/credits`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    expect(credits.balance).toBe(9);
  }, 120_000);
});
