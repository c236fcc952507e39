/**
 * `npm start`: validate the environment, build the app when the build is missing or older than the
 * sources, then run `next start`. With KIE_API_KEY unset the server itself starts kie-sim beside
 * the app (see instrumentation.ts), so this one command is the whole offline demo.
 *
 * WEB_CONCURRENCY=N (Postgres only) runs N `next start` processes on the one port with Node's
 * cluster module: this process is the primary, each worker runs Next's own CLI, and a worker's
 * `listen` is answered with the primary's socket, whose connections are dealt round robin. The
 * workers are instances like any others (DESIGN.md §2): they share Postgres and, when set, Redis.
 */
import { spawn } from "node:child_process";
import cluster, { type Worker } from "node:cluster";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import {
  ConfigError,
  concurrencyConfigError,
  concurrencyWarning,
  imageSecretConfigError,
  loadConfig,
  signInConfigError,
} from "../config";

const root = path.resolve(import.meta.dirname, "..");
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
const buildStamp = path.join(root, ".next", "BUILD_ID");
const SOURCES = [
  "app",
  "components",
  "lib",
  "sim",
  "config.ts",
  "instrumentation.ts",
  "proxy.ts",
  "next.config.ts",
  "package-lock.json",
];

function newestMtime(entry: string): number {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, child)));
  return newest;
}

function buildIsStale(): boolean {
  if (!existsSync(buildStamp)) return true;
  const built = statSync(buildStamp).mtimeMs;
  return SOURCES.some((source) => newestMtime(path.join(root, source)) > built);
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin, ...args], { cwd: root, env, stdio: "inherit" });
    // Forward stop signals so `next start` shuts down cleanly (closes the database, stops timers).
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** A worker that dies more often than this within a minute is not restarted again: all stop. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * `next start` in `workers` processes sharing the port. Stop signals go to every worker; one that
 * dies on its own is replaced (at most MAX_RESTARTS_PER_MINUTE a minute, then everything stops).
 * Resolves with the exit code once every worker has exited.
 */
function runCluster(workers: number, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Plain Node, as the single `next start` above: not this script's tsx loader.
  cluster.setupPrimary({ exec: nextBin, args, execArgv: [], silent: false });
  return new Promise((resolve) => {
    let stopping = false;
    let code = 0;
    const restarts: number[] = [];
    const live = new Set<Worker>();
    const fork = () => {
      const worker = cluster.fork(env);
      live.add(worker);
      worker.on("exit", (exitCode, signal) => {
        live.delete(worker);
        if (!stopping) {
          const now = Date.now();
          restarts.push(now);
          while ((restarts[0] ?? now) < now - 60_000) restarts.shift();
          console.error(`A server process exited (${signal ?? `code ${exitCode}`}).`);
          if (restarts.length <= MAX_RESTARTS_PER_MINUTE) {
            fork();
            return;
          }
          console.error("Server processes keep exiting: stopping all of them.");
          code = 1;
          stop("SIGTERM");
        }
        if (live.size === 0) resolve(code);
      });
    };
    const stop = (signal: NodeJS.Signals) => {
      stopping = true;
      for (const worker of live) worker.process.kill(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    for (let i = 0; i < workers; i++) fork();
  });
}

async function main(): Promise<number> {
  let port: number;
  let host: string;
  let workers: number;
  try {
    const config = loadConfig();
    const refusal =
      signInConfigError(config) ?? imageSecretConfigError(config) ?? concurrencyConfigError(config);
    if (refusal) throw refusal;
    port = config.port;
    workers = config.webConcurrency;
    const warning = concurrencyWarning(config);
    if (warning) console.warn(warning);
    // Dev sign-in lets anyone in as anyone: only this machine may reach it unless HOST says otherwise.
    host = config.host ?? (config.auth.mode === "dev" ? "127.0.0.1" : "0.0.0.0");
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NEXT_MANUAL_SIG_HANDLE: "true" };
  if (buildIsStale()) {
    console.log("Building the app (first start, or sources changed)…");
    const code = await run(["build"], env);
    if (code !== 0) return code;
  }
  if (host === "127.0.0.1") {
    console.log("Dev sign-in is on: listening on 127.0.0.1 only (set HOST to listen elsewhere).");
  }
  const args = ["start", "--port", String(port), "--hostname", host];
  if (workers === 1) return run(args, env);
  console.log(`Starting ${workers} server processes on port ${port} (WEB_CONCURRENCY).`);
  return runCluster(workers, args, env);
}

process.exitCode = await main();
