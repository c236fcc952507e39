/**
 * `npm start`: validate the environment, build the app when the build is missing or older than the
 * sources, then run `next start`. With KIE_API_KEY unset the server itself starts kie-sim beside
 * the app (see instrumentation.ts), so this one command is the whole offline demo.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError, imageSecretConfigError, loadConfig, signInConfigError } from "../config";

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

async function main(): Promise<number> {
  let port: number;
  let host: string;
  try {
    const config = loadConfig();
    const refusal = signInConfigError(config) ?? imageSecretConfigError(config);
    if (refusal) throw refusal;
    port = config.port;
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
  return run(["start", "--port", String(port), "--hostname", host], env);
}

process.exitCode = await main();
