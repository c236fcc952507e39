/**
 * All of one machine's cores (issue 28 item 5): async create throughput of `npm start` with
 * WEB_CONCURRENCY=1 and =2, side by side — the shipped recipe itself (scripts/start.ts: Node's
 * cluster, N `next start` processes on one port), on one throwaway Postgres database and the fake
 * KIE, 16 creates in flight for 5 s after 1 s of warm-up, as the throughput figure above.
 *
 *   BENCH_DATABASE_URL=postgres://… npx tsx bench/processes.ts
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent } from "undici";
import { freePort } from "../tests/helpers/server";
import { startFakeKie } from "./fakeKie";
import { asyncThroughput } from "./load";
import type { Figure } from "./report";
import { scratchDatabase } from "./scratch";
import { mintToken } from "./util";

const root = path.resolve(import.meta.dirname, "..");

/** `npm start` (scripts/start.ts) with `env`, until /api/health answers 200. */
async function npmStart(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/start.ts"],
    { cwd: root, env: { ...process.env, ...env, PORT: String(port) }, stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("npm start exited early");
    const ok = await fetch(`${url}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("npm start did not become healthy");
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  // Every process opens its app on its first request: warm them all (fresh connections are dealt
  // round robin), so the measurement does not include a process still starting.
  for (let i = 0; i < 40; i++) {
    const agent = new Agent({ connections: 1 });
    await fetch(`${url}/api/health`, { dispatcher: agent } as RequestInit).then((r) => r.arrayBuffer());
    await agent.close();
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ProcessesBench {
  one: number[];
  two: number[];
}

export async function benchProcesses(runs: number, log: (message: string) => void): Promise<ProcessesBench> {
  const secret = randomBytes(32).toString("hex");
  const kie = await startFakeKie();
  const scratch = await scratchDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "nb-bench-procs-"));
  const tokens = await Promise.all(Array.from({ length: 16 }, () => mintToken(secret, randomUUID())));
  const result: ProcessesBench = { one: [], two: [] };
  try {
    for (const [workers, into] of [
      [1, result.one],
      [2, result.two],
    ] as const) {
      log(`npm start with WEB_CONCURRENCY=${workers}: async create throughput, ${runs} runs`);
      const server = await npmStart({
        WEB_CONCURRENCY: String(workers),
        DATA_DIR: dataDir,
        DATABASE_URL: scratch.url,
        IMAGE_URL_SECRET: "bench-image-link-secret-0123456789abcdefgh",
        APP_URL: "",
        KIE_API_KEY: "",
        KIE_BASE_URL: kie.url,
        KIE_UPLOAD_BASE_URL: kie.url,
        SUPABASE_URL: "",
        SUPABASE_JWT_SECRET: secret,
        DEV_SIGN_IN: "",
        REDIS_URL: "",
        CREDITS_INITIAL: "1000000",
        RATE_LIMIT_PER_MINUTE: "1000000",
        RATE_LIMIT_IP_PER_MINUTE: "1000000",
        KIE_CREATE_LIMIT: "off",
        KIE_READ_LIMIT: "off",
        LOG_LEVEL: "info",
      });
      try {
        const clients = tokens.map((token) => ({ base: server.url, token }));
        // One run not counted: each process compiles its generate path on its own first creates.
        await asyncThroughput(clients, { inFlight: 16, seconds: 2 });
        for (let run = 0; run < runs; run++) {
          into.push((await asyncThroughput(clients, { inFlight: 16, seconds: 5 })).perSecond);
        }
      } finally {
        await server.stop();
      }
    }
    return result;
  } finally {
    await kie.close();
    await scratch.drop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function processesFigures(p: ProcessesBench): Figure[] {
  return [
    {
      label: "async `POST /api/generate` throughput, `npm start` with WEB_CONCURRENCY=2",
      unit: "req/s",
      runs: p.two,
      target: { op: "≥", value: 300 },
      baseline: { label: "WEB_CONCURRENCY=1", runs: p.one },
      digits: 0,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchProcesses(Number(process.env.BENCH_RUNS ?? 3), (m) => console.log(m));
  console.log(JSON.stringify(result));
}
