/**
 * Benchmark: copying a 10 MiB result into the store stays streamed (issue 14). A real 10 MiB PNG
 * (noise does not compress) is served from a loopback HTTP server and copied exactly as settlement
 * copies it — the image proxy's guarded fetch, the spool file, sharp's size and thumbnail, the
 * store's put — while the process's RSS is sampled every 2 ms. The target is a peak RSS growth
 * under 30 MiB over the baseline taken just before the copy, in a process that has copied before
 * (a fresh process's first large copy is reported too: it grows RSS once, see docs/BENCHMARKS.md).
 *
 *   npx tsx bench/storage-copy.ts [--store local|s3] [--mib 10]
 *
 * Self-contained; `benchStorageCopy()` is exported for `npm run bench` (bench/run.ts).
 */

import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { storeResult } from "@/lib/generation/storeResult";
import { fetchProxiedImage } from "@/lib/security/imageProxy";
import { createGuardedDispatcher } from "@/lib/security/urlGuard";
import { createImageStore, type ImageStore } from "@/lib/storage";

export interface StorageCopyResult {
  store: "local" | "s3";
  bytes: number;
  elapsedMs: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  /** Peak RSS growth of a copy in a process that has copied before (the steady state). */
  growthMiB: number;
  /** The same for a fresh process's first large copy: one-time growth that later copies reuse. */
  firstCopyGrowthMiB: number;
  /** The target: growth under 30 MiB per copy. */
  withinTarget: boolean;
}

const MiB = 1024 * 1024;
export const RSS_GROWTH_TARGET_MIB = 30;

/** A PNG of random pixels of about `bytes` bytes (PNG cannot compress noise). */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const raw = randomFillSync(Buffer.alloc(side * side * 3));
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/**
 * The "KIE" side runs in a child process, as the real KIE is another machine: only the app's
 * memory is measured. It serves `/small.png` (the warm-up) and `/result.png` from files.
 */
async function startImageServer(dir: string): Promise<{ origin: string; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs"), http = require("node:http"), path = require("node:path");
       const server = http.createServer((req, res) => {
         const file = path.join(${JSON.stringify(dir)}, path.basename(req.url));
         res.writeHead(200, { "content-type": "image/png", "content-length": fs.statSync(file).size });
         fs.createReadStream(file).pipe(res);
       });
       server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<string>((resolve) =>
    child.stdout?.once("data", (d) => resolve(String(d).trim())),
  );
  return { origin: `http://127.0.0.1:${port}`, close: () => child.kill() };
}

/** The S3-compatible server (s3rver, bucket "bench") runs in a child process too, for the same reason. */
export async function startS3Server(dir: string): Promise<{ endpoint: string; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const S3rver = require("s3rver");
       new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: ${JSON.stringify(path.join(dir, "s3"))},
         configureBuckets: [{ name: "bench", configs: [] }] })
         .run().then((address) => process.stdout.write(address.port + "\\n"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<string>((resolve) =>
    child.stdout?.once("data", (d) => resolve(String(d).trim())),
  );
  return { endpoint: `http://127.0.0.1:${port}`, close: () => child.kill() };
}

export async function benchStorageCopy(
  options: { store?: "local" | "s3"; sizeMiB?: number } = {},
): Promise<StorageCopyResult> {
  const kind = options.store ?? "local";
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-bench-copy-"));
  writeFileSync(path.join(dataDir, "result.png"), await noisePng((options.sizeMiB ?? 10) * MiB));
  writeFileSync(path.join(dataDir, "small.png"), await noisePng(64 * 1024));
  const server = await startImageServer(dataDir);
  const { origin } = server;
  let s3: { endpoint: string; close(): void } | undefined;
  let store: ImageStore;
  if (kind === "s3") {
    s3 = await startS3Server(dataDir);
    store = await createImageStore({
      kind: "s3",
      endpoint: s3.endpoint,
      region: "us-east-1",
      bucket: "bench",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
    });
  } else {
    store = await createImageStore({ kind: "local", dataDir });
  }
  const dispatcher = createGuardedDispatcher({ trustedOrigin: origin });
  const copy = (name: string, jobId: string) =>
    storeResult(jobId, `${origin}/${name}`, {
      store,
      spoolDir: path.join(dataDir, "spool"),
      fetchSource: (url) =>
        fetchProxiedImage(url, { allowedHosts: [], trustedOrigin: origin, dispatcher, maxBytes: 25 * MiB }),
    });
  try {
    // Warm-up with a 64 KiB image: loads every module and code path (file-type, sharp, the S3
    // client), so what follows is the copies' own memory, not first-use initialisation.
    await copy("small.png", "00000000-0000-4000-8000-000000000000");
    // A fresh process's first large copy grows RSS once (malloc arenas, V8's young generation
    // reaching its working size); later copies reuse that. Reported, but the target is per copy.
    const first = await peakGrowthOf(() => copy("result.png", "00000000-0000-4000-8000-000000000001"));
    await copy("result.png", "00000000-0000-4000-8000-000000000002");
    const steady = await peakGrowthOf(() => copy("result.png", "00000000-0000-4000-8000-000000000003"));
    return {
      store: kind,
      bytes: steady.value.bytes,
      elapsedMs: Math.round(steady.elapsedMs),
      baselineRssMiB: round(steady.baseline / MiB),
      peakRssMiB: round(steady.peak / MiB),
      growthMiB: round(steady.growth / MiB),
      firstCopyGrowthMiB: round(first.growth / MiB),
      withinTarget: steady.growth / MiB < RSS_GROWTH_TARGET_MIB,
    };
  } finally {
    await dispatcher.close();
    await store.close();
    s3?.close();
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Runs `work` while sampling RSS every 2 ms; growth is the peak over the RSS just before. */
async function peakGrowthOf<T>(
  work: () => Promise<T>,
): Promise<{ value: T; baseline: number; peak: number; growth: number; elapsedMs: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  const started = performance.now();
  try {
    const value = await work();
    return { value, baseline, peak, growth: peak - baseline, elapsedMs: performance.now() - started };
  } finally {
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const store = args[args.indexOf("--store") + 1] === "s3" ? "s3" : "local";
  const mibArg = args.includes("--mib") ? Number(args[args.indexOf("--mib") + 1]) : 10;
  const result = await benchStorageCopy({ store, sizeMiB: mibArg });
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.withinTarget ? 0 : 1;
}
