/**
 * Benchmark: issue 23's burst. Against kie-sim enforcing KIE's account limits (20 createTask per
 * 10 s, 10 status reads per second, 429 beyond), 60 generate requests from 30 users within one
 * second, on two `next start` servers sharing one Postgres database; every user then polls their
 * jobs each second until they end. Measured twice in the same run: with the line (KIE's budget,
 * KIE_CREATE_LIMIT and KIE_READ_LIMIT at their defaults) and without admission
 * (KIE_CREATE_LIMIT=off, KIE_READ_LIMIT=off): time to the last success, what the users were
 * answered, and what KIE accepted and refused.
 *
 *   BENCH_DATABASE_URL=postgres://… npx tsx bench/kie-burst.ts
 *
 * Needs a production build. `benchKieBurst()` is exported for `npm run bench` (bench/run.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type KieSimLimits, startKieSim } from "@/sim/server";
import { type NextServer, startNextServer } from "../tests/helpers/nextServer";
import { freePort } from "../tests/helpers/server";
import type { Figure } from "./report";
import { authHeaders, type Client, mintToken, postGenerate, sleep } from "./util";

const USERS = 30;
const PER_USER = 2;
/** Polls end after this many rounds of one second, whatever is still open (bounded). */
const MAX_POLL_ROUNDS = 180;

export interface KieBurstResult {
  admission: boolean;
  /** From the first request to the last job that succeeded. */
  lastSuccessMs: number;
  succeeded: number;
  /** Other final states, and jobs still open when polling stopped. */
  notSucceeded: number;
  /** How the 60 creates were answered, by HTTP status. */
  createAnswers: Record<string, number>;
  /** Status polls answered other than 200, by status. */
  pollErrors: Record<string, number>;
  kie: KieSimLimits;
}

function tally(statuses: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/**
 * One burst on two fresh servers; `databaseUrl` is an empty database of its own (the servers
 * migrate it). `admission: false` turns KIE's budget off: the baseline.
 */
export async function benchKieBurst(databaseUrl: string, admission: boolean): Promise<KieBurstResult> {
  const sim = await startKieSim({
    stepMs: 200,
    recordDelayMs: 50,
    imageScale: 0.125,
    logger: false,
    createTaskRateLimit: { limit: 20, windowMs: 10_000 },
    recordInfoRateLimit: { limit: 10, windowMs: 1_000 },
  });
  const secret = randomBytes(32).toString("hex");
  const servers: NextServer[] = [];
  const dataDirs: string[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const dataDir = mkdtempSync(path.join(os.tmpdir(), "nb-bench-burst-"));
      dataDirs.push(dataDir);
      servers.push(
        await startNextServer(
          port,
          {
            PORT: String(port),
            DATA_DIR: dataDir,
            DATABASE_URL: databaseUrl,
            IMAGE_URL_SECRET: "bench-image-link-secret-0123456789abcdefgh",
            APP_URL: "",
            KIE_API_KEY: "",
            KIE_BASE_URL: sim.url,
            KIE_UPLOAD_BASE_URL: sim.url,
            SUPABASE_URL: "",
            SUPABASE_JWT_SECRET: secret,
            DEV_SIGN_IN: "",
            REDIS_URL: "",
            CREDITS_INITIAL: "10",
            RATE_LIMIT_PER_MINUTE: "1000000",
            RATE_LIMIT_IP_PER_MINUTE: "1000000",
            LOG_LEVEL: "warn",
            ...(admission ? {} : { KIE_CREATE_LIMIT: "off", KIE_READ_LIMIT: "off" }),
          },
          { captureOutput: false },
        ),
      );
    }
    const tokens = await Promise.all(Array.from({ length: USERS }, () => mintToken(secret, randomUUID())));
    // Each user sends two requests at once, one to each server.
    const clients: Client[] = tokens.flatMap((token) =>
      Array.from({ length: PER_USER }, (_, n) => ({ base: servers[n % servers.length]!.url, token })),
    );
    sim.resetStats();
    const started = performance.now();
    const answers = await Promise.all(
      clients.map(async (client, i) => ({
        client,
        ...(await postGenerate(client, `burst ${i}`, "respond-async")),
      })),
    );
    const open = new Map(
      answers.filter((a) => a.status === 202).map((a) => [a.body.taskId as string, a.client]),
    );
    let succeeded = 0;
    let notSucceeded = answers.length - open.size;
    let lastSuccessMs = Number.NaN;
    const pollStatuses: number[] = [];
    for (let round = 0; round < MAX_POLL_ROUNDS && open.size > 0; round++) {
      await sleep(1_000);
      await Promise.all(
        [...open].map(async ([taskId, client]) => {
          const response = await fetch(`${client.base}/api/generate/${taskId}`, {
            headers: authHeaders(client),
          });
          pollStatuses.push(response.status);
          if (response.status !== 200) return;
          const { status } = (await response.json()) as { status: string };
          if (status === "pending" || status === "processing") return;
          open.delete(taskId);
          if (status !== "succeeded") notSucceeded += 1;
          else {
            succeeded += 1;
            lastSuccessMs = performance.now() - started;
          }
        }),
      );
    }
    return {
      admission,
      lastSuccessMs: Math.round(lastSuccessMs),
      succeeded,
      notSucceeded: notSucceeded + open.size,
      createAnswers: tally(answers.map((a) => a.status)),
      pollErrors: tally(pollStatuses.filter((s) => s !== 200)),
      kie: sim.limits(),
    };
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    await sim.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** The burst's figures for the report (one measurement each: the burst runs once per bench). */
export function kieBurstFigures(line: KieBurstResult, baseline: KieBurstResult): Figure[] {
  const noAdmission = "no admission";
  return [
    {
      label: "burst of 60 from 30 users vs KIE's limits: time to last success",
      unit: "s",
      runs: [line.lastSuccessMs / 1000],
      baseline: { label: noAdmission, runs: [baseline.lastSuccessMs / 1000] },
    },
    {
      label: "burst: jobs that did not succeed",
      unit: "jobs",
      runs: [line.notSucceeded],
      target: { op: "=", value: 0 },
      baseline: { label: noAdmission, runs: [baseline.notSucceeded] },
      digits: 0,
    },
    {
      label: "burst: KIE's most accepted creates in any 10 s",
      unit: "creates",
      runs: [line.kie.createTask.maxAcceptedInWindow],
      target: { op: "≤", value: 20 },
      baseline: { label: noAdmission, runs: [baseline.kie.createTask.maxAcceptedInWindow] },
      digits: 0,
    },
    {
      label: "burst: creates KIE refused (429)",
      unit: "creates",
      runs: [line.kie.createTask.refused],
      target: { op: "=", value: 0 },
      baseline: { label: noAdmission, runs: [baseline.kie.createTask.refused] },
      digits: 0,
    },
    {
      label: "burst: status reads KIE refused (429)",
      unit: "reads",
      runs: [line.kie.recordInfo.refused],
      target: { op: "=", value: 0 },
      baseline: { label: noAdmission, runs: [baseline.kie.recordInfo.refused] },
      digits: 0,
    },
  ];
}

/** One line for the report. */
export function describeKieBurst(r: KieBurstResult): string {
  const answers = Object.entries(r.createAnswers)
    .map(([status, n]) => `${n}× ${status}`)
    .join(", ");
  const polls = Object.entries(r.pollErrors)
    .map(([status, n]) => `${n}× ${status}`)
    .join(", ");
  return [
    `${r.admission ? "with the line" : "no admission (KIE_CREATE_LIMIT=off, KIE_READ_LIMIT=off)"}:`,
    `${r.succeeded}/60 succeeded, last after ${(r.lastSuccessMs / 1000).toFixed(1)} s;`,
    `creates answered ${answers}; polls refused: ${polls || "none"};`,
    `KIE accepted ${r.kie.createTask.accepted} creates (max ${r.kie.createTask.maxAcceptedInWindow} per 10 s), refused ${r.kie.createTask.refused};`,
    `reads: max ${r.kie.recordInfo.maxAcceptedInWindow} per second, refused ${r.kie.recordInfo.refused}`,
  ].join(" ");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { scratchDatabase } = await import("./scratch");
  for (const admission of [true, false]) {
    const database = await scratchDatabase();
    try {
      const result = await benchKieBurst(database.url, admission);
      console.log(describeKieBurst(result));
      console.log(JSON.stringify(result));
    } finally {
      await database.drop();
    }
  }
}
