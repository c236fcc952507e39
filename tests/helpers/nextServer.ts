/**
 * The production server (`next start`, the build in .next/) as its own process, started directly
 * (not through npm or tsx) so that the pid is the server's and `kill -9` hits the server itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

export interface NextServer {
  url: string;
  pid: number;
  output(): string;
  /** SIGKILL: no shutdown code runs (no SIGTERM handler, no pool.end(), no lock release). */
  kill9(): Promise<void>;
  /** SIGTERM and wait (the normal shutdown). */
  stop(): Promise<void>;
}

export function hasProductionBuild(): boolean {
  return existsSync(path.join(root, ".next", "BUILD_ID"));
}

export async function startNextServer(
  port: number,
  env: Record<string, string>,
  options: { captureOutput?: boolean } = {},
): Promise<NextServer> {
  const capture = options.captureOutput ?? true;
  if (!hasProductionBuild()) throw new Error("no production build in .next/: run `npm run build` first");
  let output = "";
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(root, "node_modules", "next", "dist", "bin", "next"), "start", "--port", String(port)],
    {
      cwd: root,
      env: {
        ...process.env,
        NEXT_TELEMETRY_DISABLED: "1",
        NEXT_MANUAL_SIG_HANDLE: "true",
        LOG_LEVEL: "warn",
        ...env,
      },
      // Benchmarks discard the output: keeping megabytes of log lines would distort them.
      stdio: ["ignore", capture ? "pipe" : "ignore", capture ? "pipe" : "ignore"],
    },
  );
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the server exited:\n${output}`);
    const healthy = await fetch(`${url}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the server did not become healthy:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    url,
    pid: child.pid as number,
    output: () => output,
    kill9: () => signal("SIGKILL"),
    stop: async () => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await signal("SIGTERM");
      clearTimeout(timer);
    },
  };
}
