/**
 * Latency and throughput of the API under load: the sync gateway's own overhead, async creates
 * per second, a burst on one balance, a trivial authenticated read, large uploads, and two
 * instances sharing one Postgres.
 */
import { randomBytes, randomUUID } from "node:crypto";
import sharp from "sharp";
import { ensureAccount } from "@/lib/credits";
import type { AppDatabase } from "@/lib/db";
import type { FakeKie } from "./fakeKie";
import {
  authHeaders,
  type Client,
  cpuMsOf,
  median,
  mintToken,
  peakRssGrowth,
  percentile,
  postGenerate,
  timed,
} from "./util";

/**
 * p50 of a route with no work behind it (an unknown /api path: the catch-all's JSON 404 — no
 * database, no auth): what Next.js and the route wrapper cost per request.
 */
export async function bareRoute(base: string, count = 200): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count + 20; i++) {
    const { ms } = await timed(async () => (await fetch(`${base}/api/bench-bare-route`)).arrayBuffer());
    if (i >= 20) times.push(ms);
  }
  return median(times);
}

/** GET /api/credits one at a time: p50. */
export async function creditsRead(client: Client, count = 200): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count + 20; i++) {
    const { ms } = await timed(async () =>
      (await fetch(`${client.base}/api/credits`, { headers: authHeaders(client) })).arrayBuffer(),
    );
    if (i >= 20) times.push(ms);
  }
  return median(times);
}

/**
 * Sync generations against a KIE that finishes at once, one at a time: latency minus the time
 * KIE itself spent on that task's calls. p50 of both.
 */
export async function syncOverhead(
  kie: FakeKie,
  client: Client,
  count = 40,
): Promise<{ overheadP50Ms: number; latencyP50Ms: number }> {
  const overheads: number[] = [];
  const latencies: number[] = [];
  for (let i = 0; i < count + 5; i++) {
    const { ms, value } = await timed(() => postGenerate(client, `sync ${i}`, "wait"));
    if (value.status !== 200)
      throw new Error(`sync generate answered ${value.status}: ${JSON.stringify(value.body)}`);
    const task = kie.task(value.body.taskId as string);
    if (i < 5 || !task) continue;
    latencies.push(ms);
    overheads.push(ms - task.ownMs);
  }
  return { overheadP50Ms: median(overheads), latencyP50Ms: median(latencies) };
}

/** Async creates with `inFlight` requests outstanding for `seconds` (after a 1 s warm-up). */
export async function asyncThroughput(
  clients: Client[],
  options: { inFlight: number; seconds: number; serverPid?: number },
): Promise<{ perSecond: number; refused: number; cpuMsPerCreate: number; cpuShare: number }> {
  const warmUntil = Date.now() + 1_000;
  let cpuAtWarm = Number.NaN;
  const cpuTimer = setTimeout(() => {
    cpuAtWarm = options.serverPid ? cpuMsOf(options.serverPid) : Number.NaN;
  }, 1_000);
  const endAt = warmUntil + options.seconds * 1_000;
  let accepted = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: options.inFlight }, async (_, worker) => {
      const client = clients[worker % clients.length] as Client;
      while (Date.now() < endAt) {
        const { status } = await postGenerate(client, "[bench:ms=1500] throughput", "respond-async");
        const finishedAt = Date.now();
        if (finishedAt < warmUntil || finishedAt > endAt) continue;
        if (status === 202) accepted++;
        else refused++;
      }
    }),
  );
  clearTimeout(cpuTimer);
  // The server's CPU over the window: per create, and as a share of one core.
  const cpuMs = options.serverPid ? cpuMsOf(options.serverPid) - cpuAtWarm : Number.NaN;
  return {
    perSecond: accepted / options.seconds,
    refused,
    cpuMsPerCreate: cpuMs / Math.max(1, accepted),
    cpuShare: cpuMs / (options.seconds * 1_000),
  };
}

/** A fresh user whose account starts with exactly `credits` (written the way a request would). */
export async function userWithCredits(
  db: AppDatabase,
  secret: string,
  bases: string[],
  credits: number,
): Promise<Client[]> {
  const userId = randomUUID();
  await ensureAccount(db, userId, { initialCredits: credits });
  const token = await mintToken(secret, userId);
  return bases.map((base) => ({ base, token }));
}

/** `count` async creates at once from one user (spread over `clients`' instances). */
export async function burst(
  clients: Client[],
  count: number,
): Promise<{ p99Ms: number; p50Ms: number; accepted: number; statuses: Record<number, number> }> {
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      timed(() =>
        postGenerate(clients[i % clients.length] as Client, "[bench:ms=1000] burst", "respond-async"),
      ),
    ),
  );
  const times = results.map((r) => r.ms);
  const statuses: Record<number, number> = {};
  for (const { value } of results) statuses[value.status] = (statuses[value.status] ?? 0) + 1;
  return {
    p99Ms: percentile(times, 99),
    p50Ms: percentile(times, 50),
    accepted: statuses[202] ?? 0,
    statuses,
  };
}

let uploadFiles: Blob[] | undefined;

/** Five PNGs just under 10 MiB each (noise does not compress). */
async function tenMiBImages(): Promise<Blob[]> {
  if (!uploadFiles) {
    const side = 1_840;
    const png = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    if (png.length > 10 * 1024 * 1024) throw new Error(`test image is ${png.length} bytes, over 10 MiB`);
    uploadFiles = Array.from({ length: 5 }, () => new Blob([new Uint8Array(png)], { type: "image/png" }));
  }
  return uploadFiles;
}

/** One multipart edit with 5 × ~10 MiB files: the server's peak RSS growth while it runs. */
export async function uploadMemory(
  client: Client,
  serverPid: number,
): Promise<{ growthMiB: number; latencyMs: number; status: number; fileBytes: number }> {
  const files = await tenMiBImages();
  const form = new FormData();
  form.set("prompt", "[bench:ms=500] five large inputs");
  for (const [i, file] of files.entries()) form.append("images", file, `input-${i}.png`);
  const { growth, value } = await peakRssGrowth(serverPid, () =>
    timed(async () => {
      const response = await fetch(`${client.base}/api/generate`, {
        method: "POST",
        headers: authHeaders(client, { prefer: "respond-async" }),
        body: form,
      });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  return {
    growthMiB: growth / (1024 * 1024),
    latencyMs: value.ms,
    status: value.value,
    fileBytes: files[0]?.size ?? 0,
  };
}
