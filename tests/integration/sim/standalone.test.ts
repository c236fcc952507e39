/**
 * `npm run sim` (sim/main.ts) as its own process (issue 24 item 11): its `/__sim/` control API
 * lists every task's callback URL (with the job's callback token) and can change what the
 * simulator answers, so it requires the simulator's own control key — KIE_SIM_CONTROL_KEY, or a
 * random one printed at start-up — sent as `Authorization: Bearer <key>`. A KIE API key is not it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** Starts `tsx sim/main.ts` on an ephemeral port; resolves once it prints where it listens. */
async function startStandalone(env: Record<string, string>): Promise<{ url: string; output: () => string }> {
  const child = spawn(
    process.execPath,
    [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), "sim/main.ts"],
    {
      cwd: root,
      env: { ...process.env, KIE_SIM_PORT: "0", KIE_SIM_LOG_LEVEL: "silent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /kie-sim listening on (http:\/\/\S+)/.exec(output)?.[1];
    if (url) return { url, output: () => output };
    if (child.exitCode !== null) throw new Error(`kie-sim exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`kie-sim did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const status = async (url: string, init: RequestInit = {}) => (await fetch(url, init)).status;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("npm run sim: the control API requires the simulator's own key", () => {
  it("refuses /__sim/* without the key, with a wrong one and with a KIE API key; serves it with the key", async () => {
    const key = "control-key-for-the-standalone-test";
    const { url } = await startStandalone({ KIE_SIM_CONTROL_KEY: key, KIE_SIM_API_KEYS: "kie-key" });
    for (const [method, route] of [
      ["GET", "/__sim/tasks"],
      ["GET", "/__sim/stats"],
      ["PUT", "/__sim/credits"],
      ["POST", "/__sim/reset"],
      ["DELETE", "/__sim/faults"],
    ] as const) {
      const body = method === "PUT" ? JSON.stringify({ credits: 0 }) : undefined;
      expect(await status(`${url}${route}`, { method, body }), `${method} ${route} without a key`).toBe(401);
      expect(await status(`${url}${route}`, { method, body, headers: bearer("wrong") })).toBe(401);
      expect(await status(`${url}${route}`, { method, body, headers: bearer("kie-key") })).toBe(401);
    }
    const credits = await fetch(`${url}/api/v1/chat/credit`, { headers: bearer("kie-key") });
    expect((await credits.json()).data).toBeGreaterThan(0); // nothing above changed the account
    const tasks = await fetch(`${url}/__sim/tasks`, { headers: bearer(key) });
    expect(tasks.status).toBe(200);
    expect(await tasks.json()).toEqual({ tasks: [] });
  }, 60_000);

  it("without KIE_SIM_CONTROL_KEY, a random key is made and printed at start-up", async () => {
    const { url, output } = await startStandalone({ KIE_SIM_CONTROL_KEY: "" });
    expect(await status(`${url}/__sim/stats`)).toBe(401);
    const printed = /Authorization: Bearer (\S+)/.exec(output())?.[1];
    expect(printed, output()).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(await status(`${url}/__sim/stats`, { headers: bearer(printed!) })).toBe(200);
  }, 60_000);
});
