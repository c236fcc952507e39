/**
 * Shutdown and the reconciler under a KIE outage (issue 10, items 4 and 6):
 * - a second SIGINT/SIGTERM during shutdown does not kill the process: it exits on its own
 *   (130 for SIGINT), within 10 s, with the embedded database closed and its lock released;
 * - a sweep over 50 timed-out jobs whose KIE reads all hang finishes within about two read
 *   deadlines and releases them all; SIGTERM during such a sweep (20 jobs) exits within 10 s.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "@/lib/db";
import { LOCK_FILE_NAME } from "@/lib/db/lock";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson } from "../generate/generateKit";
import { backdate, jobRow, ledgerOf } from "./jobKit";

const FIXTURE = path.join(import.meta.dirname, "fixtures", "runtime.ts");

interface Runtime {
  child: ChildProcess;
  dataDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startRuntime(sim: RunningKieSim, env: Record<string, string>): Promise<Runtime> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-runtime-"));
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: path.resolve(import.meta.dirname, "../../.."),
    env: {
      ...process.env,
      // The fixture reads only what it is given here (no outside KIE key, Postgres or Supabase).
      KIE_API_KEY: "",
      DATABASE_URL: "",
      SUPABASE_URL: "",
      SUPABASE_JWT_SECRET: "",
      APP_URL: "",
      DATA_DIR: dataDir,
      KIE_BASE_URL: sim.url,
      KIE_UPLOAD_BASE_URL: sim.url,
      LOG_LEVEL: "warn",
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    // Opening PGlite in a folder takes seconds, much longer on a busy machine.
    const timer = setTimeout(() => reject(new Error(`runtime did not start: ${output}`)), 150_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("exit", () => reject(new Error(`runtime exited before ready: ${output}`)));
  });
  return { child, dataDir, exited };
}

/** Waits for the exit, at most `ms`; kills the child (SIGKILL) if it overstays. */
async function exitWithin(runtime: Runtime, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const overstay = new Promise<"overstayed">(
    (resolve) => (timer = setTimeout(() => resolve("overstayed"), ms)),
  );
  const outcome = await Promise.race([runtime.exited, overstay]);
  clearTimeout(timer);
  if (outcome === "overstayed") runtime.child.kill("SIGKILL");
  return outcome;
}

describe("server runtime: shutdown", () => {
  let sim: RunningKieSim | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("a second SIGINT during shutdown does not kill it: exit 130, database closed, lock released", async () => {
    sim = await startKieSim({ logger: false });
    const runtime = await startRuntime(sim, {});
    dirs.push(runtime.dataDir);
    expect(existsSync(path.join(runtime.dataDir, LOCK_FILE_NAME))).toBe(true);

    const signalled = performance.now();
    runtime.child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 20));
    runtime.child.kill("SIGINT"); // Ctrl-C reaches the group; `npm start` forwards it once more
    const outcome = await exitWithin(runtime, 12_000);
    expect(outcome).not.toBe("overstayed");
    if (outcome === "overstayed") return;
    expect(outcome).toMatchObject({ code: 130, signal: null });
    expect(outcome.at - signalled).toBeLessThan(10_000);
    expect(existsSync(path.join(runtime.dataDir, LOCK_FILE_NAME))).toBe(false);
    // The folder opens cleanly again (a server restart).
    const reopened = await openDatabase({ dataDir: runtime.dataDir });
    await reopened.close();
  }, 200_000);

  it("SIGTERM during a sweep whose KIE reads hang exits within 10 s, the database closed", async () => {
    sim = await startKieSim({ logger: false, stepMs: 20, recordDelayMs: 0 });
    const runtime = await startRuntime(sim, {
      SEED_JOBS: "20",
      CREDITS_INITIAL: "100",
      KIE_TIMEOUT_MS: "1000",
      RECONCILE_EVERY_MS: "200",
    });
    dirs.push(runtime.dataDir);
    sim.setFaults("recordInfo:hang");
    const reading = performance.now();
    while (sim.stats().calls.recordInfo === 0 && performance.now() - reading < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sim.stats().calls.recordInfo).toBeGreaterThan(0); // a sweep is reading KIE (hung)

    const signalled = performance.now();
    runtime.child.kill("SIGTERM");
    const outcome = await exitWithin(runtime, 12_000);
    expect(outcome).not.toBe("overstayed");
    if (outcome === "overstayed") return;
    expect(outcome).toMatchObject({ code: 0, signal: null });
    expect(outcome.at - signalled).toBeLessThan(10_000);
    expect(existsSync(path.join(runtime.dataDir, LOCK_FILE_NAME))).toBe(false);
    sim.setFaults([]);
  }, 200_000);
});

describeEachDatabase("jobs: a reconciler sweep during a KIE outage", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    h?.sim.setFaults([]);
    await h?.close();
    h = undefined;
  });

  it("50 timed-out jobs whose KIE reads all hang: the sweep ends within ~2 read deadlines and releases them all", async () => {
    // min(KIE_REQUEST_TIMEOUT_MS, 10 s): the default deadline, so the releases (50 settle
    // transactions) fit in the second one even on a busy machine.
    const readDeadlineMs = 10_000;
    const harness = await startHarness({
      database: getDb(),
      env: {
        KIE_REQUEST_TIMEOUT_MS: String(readDeadlineMs),
        KIE_TIMEOUT_MS: "1000",
        CREDITS_INITIAL: "100",
        RATE_LIMIT_PER_MINUTE: "100",
        RATE_LIMIT_IP_PER_MINUTE: "1000",
      },
    });
    h = harness;
    const { token } = await harness.signIn();
    const taskIds: string[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await generateJson(
        harness,
        { prompt: `[sim:never] outage ${i}` },
        { token, prefer: "respond-async" },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      taskIds.push(res.body.taskId);
    }
    const jobIds = await Promise.all(taskIds.map(async (id) => (await jobRow(getDb(), id)).id));
    for (const id of jobIds) await backdate(getDb(), id, 25);
    harness.sim.setFaults("recordInfo:hang");
    harness.sim.resetStats();

    const started = performance.now();
    const sweep = await harness.app.generations.reconcile({ limit: 200 });
    const elapsed = performance.now() - started;
    console.info(
      `sweep over 50 hanging jobs: ${Math.round(elapsed)} ms (read deadline ${readDeadlineMs} ms)`,
    );
    expect(sweep).toEqual({ examined: 50, settled: 50 });
    expect(elapsed).toBeLessThan(2 * readDeadlineMs);
    // One wave of parallel reads found KIE failing; the rest were released without reading it.
    expect(harness.sim.stats().calls.recordInfo).toBeLessThanOrEqual(8 * 3);
    for (const id of jobIds) expect(await ledgerOf(getDb(), id)).toEqual({ reserve: 1, release: 1 });
    expect(await creditsOf(harness, token)).toBe(100);
  }, 150_000);
});
