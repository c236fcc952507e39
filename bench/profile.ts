/**
 * `npx tsx bench/profile.ts [seconds]`: one `next start` under `node --cpu-prof`, loaded with
 * async creates (16 in flight) against the fake KIE with callbacks on, then stopped; prints where
 * the server's CPU went (self time by function and by package) and the CPU per create. The raw
 * profile stays in the printed folder (open it in Chrome DevTools). Needs a build and Postgres
 * (BENCH_DATABASE_URL or TEST_DATABASE_URL).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "../tests/helpers/server";
import { startFakeKie } from "./fakeKie";
import { asyncThroughput } from "./load";
import { mintToken, sleep } from "./util";

const ADMIN_URL = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
const SECONDS = Number(process.argv[2] ?? 10);
const root = path.resolve(import.meta.dirname, "..");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}

/** Self time per function over the last `windowS` seconds of the profile (the load, not start-up). */
function summarize(file: string, creates: number, windowS: number): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: ProfileNode[];
    endTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  let at = profile.endTime;
  // Walk back from the end: sample i lasted until sample i + 1 began.
  for (let i = profile.samples.length - 1; i > 0 && at >= profile.endTime - windowS * 1e6; i--) {
    const lasted = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i] as number;
    selfMs.set(id, (selfMs.get(id) ?? 0) + lasted / 1000);
    at -= profile.timeDeltas[i] ?? 0;
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    const where = url.replace(/^.*node_modules\//, "").replace(/^.*\.next\//, ".next/");
    const key = `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url ? (url.startsWith("node:") ? "node core" : "app (.next)") : functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
  }
  const busy = [...byPackage.values()].reduce((a, b) => a + b, 0);
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${k}`,
      )
      .join("\n");
  process.stdout.write(
    `\nbusy CPU ${busy.toFixed(0)} ms for ${creates} creates: ${(busy / Math.max(1, creates)).toFixed(2)} ms per create\n` +
      `\nby package:\n${top(byPackage, 15)}\n\nby function (self time):\n${top(byFunction, 30)}\n`,
  );
}

async function main(): Promise<void> {
  if (!ADMIN_URL) throw new Error("set BENCH_DATABASE_URL or TEST_DATABASE_URL");
  const name = `nb_prof_${randomBytes(4).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const kie = await startFakeKie();
  const secret = randomBytes(32).toString("hex");
  const port = await freePort();
  const profileDir = mkdtempSync(path.join(os.tmpdir(), "nb-profile-"));
  const child = spawn(
    process.execPath,
    [
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      "node_modules/next/dist/bin/next",
      "start",
      "--port",
      String(port),
    ],
    {
      cwd: root,
      stdio: "ignore",
      env: {
        ...process.env,
        NEXT_TELEMETRY_DISABLED: "1",
        NEXT_MANUAL_SIG_HANDLE: "true",
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "nb-profile-data-")),
        DATABASE_URL: url.toString(),
        IMAGE_URL_SECRET: "bench-image-link-secret-0123456789abcdefgh",
        APP_URL: `http://127.0.0.1:${port}`,
        KIE_API_KEY: "",
        KIE_BASE_URL: kie.url,
        KIE_UPLOAD_BASE_URL: kie.url,
        SUPABASE_URL: "",
        SUPABASE_JWT_SECRET: secret,
        REDIS_URL: "",
        CREDITS_INITIAL: "1000000",
        RATE_LIMIT_PER_MINUTE: "1000000",
        RATE_LIMIT_IP_PER_MINUTE: "1000000",
        LOG_LEVEL: "info",
      },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      if (
        await fetch(`${base}/api/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await sleep(200);
    }
    const clients = await Promise.all(
      Array.from({ length: 16 }, async () => ({ base, token: await mintToken(secret, randomUUID()) })),
    );
    const result = await asyncThroughput(clients, { inFlight: 16, seconds: SECONDS });
    // Creates during the profiled window (the warm-up second included).
    const creates = Math.round(result.perSecond * (SECONDS + 1));
    process.stdout.write(
      `${result.perSecond.toFixed(1)} creates/s over ${SECONDS} s (${result.refused} refused)\n`,
    );
    await sleep(3_000); // let the callbacks of the last jobs land
    child.kill("SIGTERM");
    await exited;
    const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("no profile written");
    process.stdout.write(`profile: ${path.join(profileDir, file)}\n`);
    summarize(path.join(profileDir, file), creates, SECONDS + 4);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await kie.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

await main();
