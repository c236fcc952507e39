/**
 * Stored images at scale (issue 28 item 4): a history page — the list and its 24 thumbnails — loaded
 * by 50 users at once, each like a browser (its own connections, at most 6 requests at a time),
 * every thumbnail by the signed link the list answered with. On the local store the app streams
 * the bytes; on S3 it answers a 302 to a presigned URL (the bytes come from the bucket: s3rver in
 * a child process here), measured as the app's answer and, beside it, followed to the bucket.
 * Same-run baseline: the bare route (the catch-all's JSON 404) loaded the same way.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { Agent } from "undici";
import { ensureAccount } from "@/lib/credits";
import { type AppDatabase, generations, type NewGeneration } from "@/lib/db";
import { createImageStore, type ImageStore, LocalImageStore, resultKey, thumbnailKey } from "@/lib/storage";
import { type NextServer, startNextServer } from "../tests/helpers/nextServer";
import { freePort } from "../tests/helpers/server";
import { scratchDatabase } from "./scratch";
import { startS3Server } from "./storage-copy";
import { type Client, cpuMsOf, mintToken, percentile, pool } from "./util";

export const HISTORY_USERS = 50;
export const THUMBNAILS_PER_PAGE = 24;
/** What a browser opens to one origin over HTTP/1.1. */
const BROWSER_CONNECTIONS = 6;

export interface HistoryLoad {
  /** Each thumbnail request, from sent to its last byte (for a redirect: the app's 302). */
  thumbP50Ms: number;
  thumbP95Ms: number;
  /** One user's page: the list, then its 24 thumbnails, from the first request to the last byte. */
  pageP95Ms: number;
  /** With a redirect: the bucket's answer to the presigned URL, then the whole thumbnail. */
  bucketP95Ms?: number;
  followedP95Ms?: number;
  /** The server's CPU (user + system) per request it answered, list included. */
  cpuMsPerRequest: number;
  statuses: Record<number, number>;
}

/** A 256-px WebP like the copy step makes (noise: no better compressed than a real photo's). */
async function thumbnail(): Promise<Buffer> {
  return sharp({
    create: {
      width: 256,
      height: 192,
      channels: 3,
      background: "#f5c000",
      noise: { type: "gaussian", mean: 128, sigma: 24 },
    },
  })
    .webp({ quality: 80 })
    .toBuffer();
}

/**
 * `users` users with `perUser` stored jobs each (rows written as settlement leaves them, the
 * thumbnail put in every store given): their clients on each base URL, in the same order.
 */
export async function seedHistories(
  db: AppDatabase,
  stores: ImageStore[],
  secret: string,
  options: { users: number; perUser: number },
): Promise<{ tokens: string[]; thumbBytes: number }> {
  const thumb = await thumbnail();
  const sha = createHash("sha256").update(thumb).digest("hex");
  const tokens: string[] = [];
  const rows: NewGeneration[] = [];
  const now = Date.now();
  for (let u = 0; u < options.users; u++) {
    const userId = randomUUID();
    await ensureAccount(db, userId, { initialCredits: 0 });
    tokens.push(await mintToken(secret, userId));
    for (let j = 0; j < options.perUser; j++) {
      const id = randomUUID();
      const at = new Date(now - (u * options.perUser + j) * 1_000);
      rows.push({
        id,
        userId,
        type: "text_to_image",
        model: "google/nano-banana",
        prompt: `history ${u}/${j}`,
        cost: 1,
        status: "succeeded",
        createdAt: at,
        settledAt: at,
        resultUrls: [`https://tempfile.aiquickdraw.com/bench/${id}.png`],
        imageKey: resultKey(id, "image/png"),
        imageThumbKey: thumbnailKey(id),
        imageType: "image/png",
        imageBytes: 1_000_000,
        imageWidth: 1024,
        imageHeight: 768,
        imageSha256: sha,
        imageStoredAt: at,
      });
    }
  }
  for (let i = 0; i < rows.length; i += 200) await db.insert(generations).values(rows.slice(i, i + 200));
  for (const store of stores) {
    await pool(rows.length, 16, (i) =>
      store.put(rows[i]!.imageThumbKey as string, thumb, {
        contentType: "image/webp",
        contentLength: thumb.byteLength,
      }),
    );
  }
  return { tokens, thumbBytes: thumb.byteLength };
}

/**
 * Every user loads its history page at once: the list, then its thumbnails (at most 6 at a time);
 * `bare`: 25 requests of the bare route instead (the baseline).
 */
export async function loadHistories(
  clients: Client[],
  options: { bare?: boolean; serverPid?: number } = {},
): Promise<HistoryLoad> {
  const cpuBefore = options.serverPid ? cpuMsOf(options.serverPid) : Number.NaN;
  const thumbs: number[] = [];
  const bucket: number[] = [];
  const followed: number[] = [];
  const pages: number[] = [];
  const statuses: Record<number, number> = {};
  const count = (status: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
  };
  await Promise.all(
    clients.map(async (client) => {
      // One browser: its own connections to the app (and to the bucket).
      const browser = new Agent({ connections: BROWSER_CONNECTIONS });
      try {
        const started = performance.now();
        const paths = options.bare
          ? Array.from({ length: THUMBNAILS_PER_PAGE + 1 }, () => "/api/bench-bare-route")
          : await thumbnailPaths(client, browser);
        await pool(paths.length, BROWSER_CONNECTIONS, async (i) => {
          const sent = performance.now();
          const response = await fetch(new URL(paths[i]!, client.base), {
            redirect: "manual",
            dispatcher: browser,
          } as RequestInit);
          await response.arrayBuffer();
          count(response.status);
          thumbs.push(performance.now() - sent);
          const location = response.status === 302 ? response.headers.get("location") : null;
          if (!location) return;
          const hop = performance.now();
          const image = await fetch(location, { dispatcher: browser } as RequestInit);
          await image.arrayBuffer();
          count(image.status);
          bucket.push(performance.now() - hop);
          followed.push(performance.now() - sent);
        });
        pages.push(performance.now() - started);
      } finally {
        await browser.close();
      }
    }),
  );
  const cpuMs = options.serverPid ? cpuMsOf(options.serverPid) - cpuBefore : Number.NaN;
  return {
    cpuMsPerRequest: cpuMs / (thumbs.length + (options.bare ? 0 : clients.length)),
    thumbP50Ms: percentile(thumbs, 50),
    thumbP95Ms: percentile(thumbs, 95),
    pageP95Ms: percentile(pages, 95),
    ...(bucket.length > 0 && {
      bucketP95Ms: percentile(bucket, 95),
      followedP95Ms: percentile(followed, 95),
    }),
    statuses,
  };
}

/** The page's list (as History asks for it), then the thumbnail links it answered with. */
async function thumbnailPaths(client: Client, browser: Agent): Promise<string[]> {
  const response = await fetch(`${client.base}/api/generations?limit=${THUMBNAILS_PER_PAGE}`, {
    headers: { authorization: `Bearer ${client.token}` },
    dispatcher: browser,
  } as RequestInit);
  if (response.status !== 200) throw new Error(`history list answered ${response.status}`);
  const body = (await response.json()) as { generations: { thumbnailUrl?: string }[] };
  const paths = body.generations.map((job) => job.thumbnailUrl).filter((url): url is string => Boolean(url));
  if (paths.length !== THUMBNAILS_PER_PAGE) throw new Error(`history list gave ${paths.length} thumbnails`);
  return paths;
}

export interface HistoryBench {
  local: HistoryLoad[];
  s3: HistoryLoad[];
  bare: HistoryLoad[];
  thumbBytes: number;
}

/**
 * The whole scenario, `runs` times: a fresh database, two `next start` servers on it — local store
 * and S3 (s3rver in a child process) — 50 users with 24 stored jobs each, then per run the bare
 * baseline, the local store and the S3 redirect path, one after another (never side by side).
 */
export async function benchHistoryPages(runs: number, log: (message: string) => void): Promise<HistoryBench> {
  const secret = randomBytes(32).toString("hex");
  const scratch = await scratchDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), "nb-bench-images-"));
  const s3 = await startS3Server(dir);
  const servers: NextServer[] = [];
  const stores: ImageStore[] = [];
  try {
    const start = async (dataDir: string, extra: Record<string, string>) => {
      const port = await freePort();
      const server = await startNextServer(
        port,
        {
          PORT: String(port),
          DATA_DIR: dataDir,
          DATABASE_URL: scratch.url,
          IMAGE_URL_SECRET: "bench-image-link-secret-0123456789abcdefgh",
          APP_URL: "",
          KIE_API_KEY: "",
          SUPABASE_URL: "",
          SUPABASE_JWT_SECRET: secret,
          DEV_SIGN_IN: "",
          REDIS_URL: "",
          RATE_LIMIT_PER_MINUTE: "1000000",
          RATE_LIMIT_IP_PER_MINUTE: "1000000",
          LOG_LEVEL: "info",
          ...extra,
        },
        { captureOutput: false },
      );
      servers.push(server);
      return server;
    };
    const localDir = path.join(dir, "local");
    const s3Env = {
      IMAGE_STORE: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: "us-east-1",
      S3_BUCKET: "bench",
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "true",
    };
    log("history pages: seeding 50 users × 24 stored jobs (local store and S3)");
    const local = new LocalImageStore(path.join(localDir, "images"));
    const bucket = await createImageStore({
      kind: "s3",
      endpoint: s3.endpoint,
      region: "us-east-1",
      bucket: "bench",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    });
    stores.push(local, bucket);
    const { tokens, thumbBytes } = await seedHistories(scratch.database.db, stores, secret, {
      users: HISTORY_USERS,
      perUser: THUMBNAILS_PER_PAGE,
    });
    const onLocal = await start(localDir, {});
    const onS3 = await start(path.join(dir, "s3-app"), s3Env);
    const clientsOf = (server: NextServer) => tokens.map((token) => ({ base: server.url, token }));
    // One page load each first: connections, code paths and the database's caches warm.
    await loadHistories(clientsOf(onLocal).slice(0, 5));
    await loadHistories(clientsOf(onS3).slice(0, 5));
    const result: HistoryBench = { local: [], s3: [], bare: [], thumbBytes };
    for (let run = 1; run <= runs; run++) {
      log(`history pages, run ${run}/${runs}: 50 users at once — bare route, local store, S3 redirect`);
      result.bare.push(await loadHistories(clientsOf(onLocal), { bare: true, serverPid: onLocal.pid }));
      result.local.push(await loadHistories(clientsOf(onLocal), { serverPid: onLocal.pid }));
      result.s3.push(await loadHistories(clientsOf(onS3), { serverPid: onS3.pid }));
    }
    return result;
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    for (const store of stores) await store.close().catch(() => {});
    s3.close();
    await scratch.drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchHistoryPages(Number(process.env.BENCH_RUNS ?? 3), (m) => console.log(m));
  console.log(JSON.stringify(result, null, 2));
}
