/**
 * `npm run bench`: starts a fake KIE and four production servers (`next start`) on loopback —
 * two with callbacks (APP_URL) sharing one Postgres database, two without sharing another —
 * runs every scenario BENCH_RUNS times (default 3), audits both ledgers, and rewrites the
 * generated section of docs/BENCHMARKS.md. Bounded: every loop has a cap, and it ends by itself.
 *
 * Needs a production build (`npm run build`) and a Postgres server to create throwaway databases
 * on (BENCH_DATABASE_URL, else TEST_DATABASE_URL).
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { auditLedger, describeAudit } from "@/lib/credits";
import { hasProductionBuild, type NextServer, startNextServer } from "../tests/helpers/nextServer";
import { freePort } from "../tests/helpers/server";
import { startFakeKie } from "./fakeKie";
import {
  describeHistoryBench,
  describeStatuses,
  figuresOf,
  historyFigures,
  newMeasurements,
} from "./figures";
import { benchHistoryPages } from "./images";
import { benchKieBurst, describeKieBurst, type KieBurstResult, kieBurstFigures } from "./kie-burst";
import {
  asyncThroughput,
  bareRoute,
  burst,
  creditsRead,
  syncOverhead,
  uploadMemory,
  userWithCredits,
} from "./load";
import { deliveryThroughApp, fixedPoller, manyClientsOneJob } from "./polling";
import { benchProcesses, processesFigures } from "./processes";
import { renderSection, writeReport } from "./report";
import { ADMIN_URL, scratchDatabase } from "./scratch";
import { type Client, mintToken } from "./util";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const root = path.resolve(import.meta.dirname, "..");
const log = (message: string) =>
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

function conditionsOf(startLoad: number[], postgres: string): string[] {
  const cpus = os.cpus();
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root }).toString().trim();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" / ");
  return [
    `machine: ${cpus.length} × ${cpus[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${postgres}`,
    `commit ${commit}; load average (1/5/15 min) at start ${load(startLoad)}, at end ${load(os.loadavg())}; bench process nice ${os.getPriority()}`,
    "servers: `next start` (production build), LOG_LEVEL=info, Postgres on loopback, Supabase-format HS256 tokens, rate limits raised out of the way, KIE's budget off (`KIE_CREATE_LIMIT=off`, `KIE_READ_LIMIT=off`: the line is the KIE burst's figure)",
    "KIE: bench/fakeKie.ts on loopback — answers at once and draws nothing; a task lasts what its prompt says (`[bench:ms=N]`) and then calls back",
    "the machine is shared (2 cores, other engineers' test runs): figures are noisy; compare a figure with its same-run baseline",
  ];
}

async function main(): Promise<void> {
  if (!ADMIN_URL)
    throw new Error(
      "set BENCH_DATABASE_URL (or TEST_DATABASE_URL): a Postgres server for throwaway databases",
    );
  if (!hasProductionBuild()) {
    log("no production build: running `npm run build`");
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  }
  const startedAt = new Date();
  const startLoad = os.loadavg();
  const secret = randomBytes(32).toString("hex");
  const kie = await startFakeKie();
  const withCallbacks = await scratchDatabase();
  const withoutCallbacks = await scratchDatabase();
  const servers: NextServer[] = [];
  const dataDirs: string[] = [];
  try {
    const start = async (databaseUrl: string, callbacks: boolean) => {
      const port = await freePort();
      const dataDir = mkdtempSync(path.join(os.tmpdir(), "nb-bench-"));
      dataDirs.push(dataDir);
      const server = await startNextServer(
        port,
        {
          PORT: String(port),
          DATA_DIR: dataDir,
          DATABASE_URL: databaseUrl,
          IMAGE_URL_SECRET: "bench-image-link-secret-0123456789abcdefgh",
          APP_URL: callbacks ? `http://127.0.0.1:${port}` : "",
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
          // KIE's account budget (issue 23) would queue these creates (20 per 10 s): the line is
          // measured on its own, by the KIE burst below; here the fake KIE has no limit.
          KIE_CREATE_LIMIT: "off",
          KIE_READ_LIMIT: "off",
          LOG_LEVEL: "info",
        },
        { captureOutput: false },
      );
      servers.push(server);
      return server;
    };
    log("starting servers");
    const a = await start(withCallbacks.url, true);
    const a2 = await start(withCallbacks.url, true);
    const b = await start(withoutCallbacks.url, false);
    const b2 = await start(withoutCallbacks.url, false);
    const tokens = await Promise.all(Array.from({ length: 16 }, () => mintToken(secret, randomUUID())));
    const on = (server: NextServer, count = 16): Client[] =>
      tokens.slice(0, count).map((token) => ({ base: server.url, token }));
    const fanOut = (servers: NextServer[], count: number): Client[] =>
      Array.from({ length: count }, (_, i) => ({
        base: servers[i % servers.length]!.url,
        token: tokens[0]!,
      }));

    const f = newMeasurements();
    const job = { jobs: 8, durationMs: 10_000 };
    for (let run = 1; run <= RUNS; run++) {
      log(
        `run ${run}/${RUNS}: delivery of 10 s jobs (callbacks, no callbacks, Prefer: wait, 500 ms baseline)`,
      );
      const [cb, noCb, wait, base] = await Promise.all([
        deliveryThroughApp(kie, on(a, 8), { ...job, mode: "poll" }),
        deliveryThroughApp(kie, on(b, 8), { ...job, mode: "poll" }),
        deliveryThroughApp(kie, on(a2, 8), { ...job, mode: "wait" }),
        fixedPoller(kie, job),
      ]);
      f.readsCb.push(cb.readsPerJob);
      f.ttvCb.push(cb.ttvP50Ms);
      f.readsNoCb.push(noCb.readsPerJob);
      f.ttvNoCb.push(noCb.ttvP50Ms);
      f.ttvWait.push(wait.ttvP50Ms);
      f.waitSupported &&= wait.waitSupported ?? false;
      f.baseReads.push(base.readsPerJob);
      f.baseTtv.push(base.ttvP50Ms);

      log(`run ${run}/${RUNS}: 50 clients on one job; 10 clients on one job across two instances`);
      const [fan, shared] = await Promise.all([
        manyClientsOneJob(kie, fanOut([b], 50), { durationMs: 10_000 }),
        manyClientsOneJob(kie, fanOut([b, b2], 10), { durationMs: 10_000 }),
      ]);
      f.fanReads.push(fan.reads);
      f.fanMaxPerSecond.push(fan.maxReadsPerSecond);
      f.fanRequests.push(fan.clientRequests);
      f.sharedReads.push(shared.reads);

      log(`run ${run}/${RUNS}: latency and throughput`);
      f.bare.push(await bareRoute(a.url));
      f.credits.push(await creditsRead(on(a, 1)[0]!));
      const sync = await syncOverhead(kie, on(a, 1)[0]!);
      f.overhead.push(sync.overheadP50Ms);
      f.syncLatency.push(sync.latencyP50Ms);
      const load = await asyncThroughput(on(a), { inFlight: 16, seconds: 5, serverPid: a.pid });
      f.throughput.push(load.perSecond);
      f.cpuPerCreate.push(load.cpuMsPerCreate);
      f.cpuShare.push(load.cpuShare);
      const burstResult = await burst(
        await userWithCredits(withCallbacks.database.db, secret, [a.url], 100),
        200,
      );
      f.burstP99.push(burstResult.p99Ms);
      f.burstAccepted.push(burstResult.accepted);
      f.notes.push(
        `run ${run}: 200 creates on 100 credits answered ${describeStatuses(burstResult.statuses)}`,
      );
      const pair = await userWithCredits(withCallbacks.database.db, secret, [a.url, a2.url], 50);
      const twoInstances = await burst(pair, 100);
      f.twoAccepted.push(twoInstances.accepted);
      f.notes.push(
        `run ${run}: 100 creates on 50 credits, two instances, answered ${describeStatuses(twoInstances.statuses)}`,
      );
      const after = await (
        await fetch(`${a2.url}/api/credits`, { headers: { authorization: `Bearer ${pair[0]!.token}` } })
      ).json();
      f.twoBalance.push(after.balance);
      const upload = await uploadMemory(on(a, 1)[0]!, a.pid);
      f.uploadGrowth.push(upload.growthMiB);
      f.uploadStatus.push(upload.status);
    }

    log(
      "issue 23's burst: 60 creates from 30 users against KIE's limits, with the line, then without admission",
    );
    const bursts = [];
    for (const admission of [true, false]) {
      const scratch = await scratchDatabase();
      try {
        bursts.push(await benchKieBurst(scratch.url, admission));
      } finally {
        await scratch.drop().catch(() => {});
      }
    }
    const [withLine, noAdmission] = bursts as [KieBurstResult, KieBurstResult];
    f.notes.push(describeKieBurst(withLine), describeKieBurst(noAdmission));

    // Issue 28 item 4: its own database and servers (local store, S3), the others idle meanwhile.
    const history = await benchHistoryPages(RUNS, log);
    f.notes.push(describeHistoryBench(history));
    // Issue 28 item 5: `npm start` itself, with 1 and then 2 server processes.
    const processes = await benchProcesses(RUNS, log);

    log("waiting for open jobs to settle, then auditing both ledgers");
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const audits = [
      await auditLedger(withCallbacks.database.db),
      await auditLedger(withoutCallbacks.database.db),
    ];
    for (const audit of audits) log(describeAudit(audit));
    const problems = audits.reduce((sum, audit) => sum + audit.problems.length, 0);

    const figures = [
      ...figuresOf(f, problems),
      ...processesFigures(processes),
      ...historyFigures(history),
      ...kieBurstFigures(withLine, noAdmission),
    ];
    const db = withCallbacks.database;
    const version = db.kind === "postgres" ? (await db.pool.query("SHOW server_version")).rows[0] : undefined;
    const section = renderSection(figures, {
      startedAt: `${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
      runs: RUNS,
      lines: [
        ...conditionsOf(startLoad, `Postgres ${version?.server_version}`),
        `uploads answered ${[...new Set(f.uploadStatus)].join(", ")}`,
        ...f.notes,
      ],
    });
    const report = path.join(root, "docs", "BENCHMARKS.md");
    writeReport(report, section);
    // Biome formats Markdown too (tables aligned): keep `npm run lint` green after a run.
    execFileSync(path.join(root, "node_modules", ".bin", "biome"), ["format", "--write", report], {
      cwd: root,
    });
    process.stdout.write(`\n${section}\n`);
    log("docs/BENCHMARKS.md updated");
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    await kie.close();
    await withCallbacks.drop().catch(() => {});
    await withoutCallbacks.drop().catch(() => {});
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
