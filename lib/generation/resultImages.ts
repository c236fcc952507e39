/**
 * What happens to result images around settlement (DESIGN.md §9): the copy at settlement (with a
 * short retry while the store is down), the reconciler's "copy later" for jobs that succeeded on
 * KIE's URL, the owner's delete, IMAGE_RETENTION_DAYS pruning and the orphan sweep. Framework-free.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { AppDatabase } from "@/lib/db";
import { inputKeysToRemove } from "@/lib/db/batchInputs";
import { findUserGeneration } from "@/lib/db/generations";
import {
  claimUnstoredImages,
  keysInUse,
  markExpiredImages,
  markJobDeleted,
  openJobIds,
  recordCopyFailure,
  recordInputImages,
  recordStoredImage,
} from "@/lib/db/images";
import type { Generation, StoredInputImage } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import { ProxyUpstreamError } from "@/lib/security/errors";
import {
  type ImageStore,
  inputKey,
  jobIdOfKey,
  StoreUnavailableError,
  sweepTempFiles,
  TEMP_MAX_AGE_MS,
} from "@/lib/storage";
import { aspectRatioWarning } from "./aspectRatio";
import { forEachLimited, untilAborted } from "./concurrency";
import { ResultRejectedError, type StoredImage, type StoreResultDeps, storeResult } from "./storeResult";
import { isOpen } from "./watch";

/** How a copy at settlement ended; the settlement decides the job's fate from it. */
export type CopyOutcome =
  | { kind: "stored"; image: StoredImage; warnings: string[] }
  /** Our store is down: succeed on KIE's URL, marked not yet stored (the reconciler copies it). */
  | { kind: "store_down" }
  /**
   * Not an image, over the cap, or on a host the guard refuses (IMAGE_PROXY_ALLOWED_HOSTS lacks
   * it: /api/images could not serve it either): the job fails and its credits are released.
   */
  | { kind: "rejected"; message: string }
  /** KIE's file could not be fetched right now: leave the job open, the next read tries again. */
  | { kind: "source_unavailable" };

/** Retries of a store that is down, at settlement (the reconciler keeps trying after that). */
const STORE_RETRY_DELAYS_MS = [250, 1_000];
/** The reconciler's backoff for a job succeeded on KIE's URL: 30 s, 1 min, 2 min … at most 1 h. */
const COPY_BACKOFF_BASE_MS = 30_000;
const COPY_BACKOFF_MAX_MS = 3_600_000;
/** KIE keeps results 24 h–14 days: past this, stop trying. */
const COPY_GIVE_UP_AFTER_MS = 14 * 86_400_000;
/** While a claimed copy runs, nobody else takes the job (longer than a copy is waited for). */
const COPY_LEASE_MS = 120_000;
/** The images' loop: copies at once, how long one is waited for, and when a pass starts no more. */
const COPY_PARALLELISM = 4;
const COPY_DEADLINE_MS = 90_000;
const COPY_BUDGET_MS = 60_000;
/** Files younger than this are never orphans (a copy may be between its put and its row update). */
export const ORPHAN_GRACE_MS = 15 * 60_000;

export interface ResultImagesDeps {
  db: AppDatabase;
  store: ImageStore;
  fetchSource: StoreResultDeps["fetchSource"];
  /** The copy step's spool (spoolDirOf(DATA_DIR, "results")). */
  spoolDir: string;
  /** Where requests spool their uploads (spoolDirOf(DATA_DIR, "uploads")): swept with the temp files. */
  uploadSpoolDir?: string;
  logger: Logger;
  retryDelaysMs?: number[];
}

export class ResultImages {
  constructor(private readonly deps: ResultImagesDeps) {}

  get store(): ImageStore {
    return this.deps.store;
  }

  /** The copy at settlement: stored, store down (after short retries), rejected, or try later. */
  async copyAtSettlement(job: Generation, sourceUrl: string): Promise<CopyOutcome> {
    const delays = this.deps.retryDelaysMs ?? STORE_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const image = await this.copy(job.id, sourceUrl);
        return { kind: "stored", image, warnings: warningsFor(job, image) };
      } catch (error) {
        if (error instanceof ResultRejectedError && error.reason === "unsafe_url") {
          // An operator's configuration problem, not the user's: never charge for an image nobody can load.
          this.deps.logger.error(
            { jobId: job.id, sourceUrl, err: error.cause },
            "result host refused by the URL guard (add it to IMAGE_PROXY_ALLOWED_HOSTS?): job failed, credits released",
          );
          return { kind: "rejected", message: error.message };
        }
        if (error instanceof ResultRejectedError) {
          this.deps.logger.warn(
            { jobId: job.id, sourceUrl, reason: error.reason, err: error.cause },
            "result refused",
          );
          return { kind: "rejected", message: error.message };
        }
        if (!(error instanceof StoreUnavailableError)) {
          this.deps.logger.warn({ jobId: job.id, err: error }, "could not fetch the result; will retry");
          return { kind: "source_unavailable" };
        }
        const delay = delays[attempt];
        if (delay === undefined) {
          this.deps.logger.error(
            { jobId: job.id, err: error.cause },
            "image store down: succeeding on KIE's URL",
          );
          return { kind: "store_down" };
        }
        await sleep(delay);
      }
    }
  }

  private copy(jobId: string, sourceUrl: string): Promise<StoredImage> {
    return storeResult(jobId, sourceUrl, {
      store: this.deps.store,
      fetchSource: this.deps.fetchSource,
      spoolDir: this.deps.spoolDir,
    });
  }

  /**
   * An edit's uploaded inputs, stored under the job (KIE deletes its copies after ~3 days) and
   * listed on the row. Best effort: a store that is down costs the copies, never the generation.
   */
  async storeInputs(jobId: string, files: { data: Blob; mimeType: string }[]): Promise<void> {
    if (files.length === 0) return;
    try {
      const stored: StoredInputImage[] = [];
      for (const [index, file] of files.entries()) {
        // Streamed from the Blob and hashed on the way: no second copy of an upload in memory.
        const hash = createHash("sha256");
        const key = inputKey(jobId, index, file.mimeType);
        const { bytes } = await this.deps.store.put(key, Readable.from(hashedChunks(file.data, hash)), {
          contentType: file.mimeType,
        });
        stored.push({ key, type: file.mimeType, bytes, sha256: hash.digest("hex") });
      }
      await recordInputImages(this.deps.db, jobId, stored);
    } catch (error) {
      this.deps.logger.warn({ jobId, err: error }, "could not store the edit's inputs; KIE's copies only");
    }
  }

  /**
   * The images' loop (its own, beside the jobs' sweep): copies results that settled on KIE's URL.
   * Bounded: a few copies at a time, each waited for at most COPY_DEADLINE_MS, no new copy once
   * `budgetMs` has passed, and `signal` (the server stopping) ends the wait at once. A copy left
   * behind finishes on its own and keeps its claim meanwhile; the unstarted rest is copied by a
   * later pass, here or on another instance, once their claim runs out.
   */
  async copyPending(options: {
    limit: number;
    signal?: AbortSignal;
    budgetMs?: number;
  }): Promise<{ copied: number; failed: number }> {
    if (options.signal?.aborted) return { copied: 0, failed: 0 };
    const jobs = await claimUnstoredImages(this.deps.db, { limit: options.limit, leaseMs: COPY_LEASE_MS });
    const started = Date.now();
    const budgetMs = options.budgetMs ?? COPY_BUDGET_MS;
    const counts = { copied: 0, failed: 0 };
    await forEachLimited(jobs, COPY_PARALLELISM, async (job) => {
      if (options.signal?.aborted || Date.now() - started > budgetMs) return;
      const deadline = AbortSignal.timeout(COPY_DEADLINE_MS);
      const copying = this.copyLater(job);
      const outcome = await untilAborted(
        copying,
        options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
      );
      if (outcome) counts[outcome]++;
    });
    return counts;
  }

  /** One copy of a result that settled on KIE's URL; a failure is recorded (backoff, or gone). */
  private async copyLater(job: Generation): Promise<"copied" | "failed" | undefined> {
    const source = job.resultUrls?.[0];
    if (!source) return undefined;
    try {
      const image = await this.copy(job.id, source);
      return (await recordStoredImage(this.deps.db, job.id, image, warningsFor(job, image)))
        ? "copied"
        : undefined;
    } catch (error) {
      const gone =
        error instanceof ResultRejectedError ||
        (error instanceof ProxyUpstreamError && (error.status === 404 || error.status === 410)) ||
        Date.now() - (job.settledAt ?? job.createdAt).getTime() > COPY_GIVE_UP_AFTER_MS;
      const backoff = Math.min(COPY_BACKOFF_BASE_MS * 2 ** job.imageAttempts, COPY_BACKOFF_MAX_MS);
      await recordCopyFailure(this.deps.db, job.id, gone ? null : backoff).catch((recordError) =>
        this.deps.logger.warn({ jobId: job.id, err: recordError }, "could not record a failed copy"),
      );
      this.deps.logger.warn({ jobId: job.id, gone, err: error }, "copy of a result into the store failed");
      return "failed";
    }
  }

  /** DELETE /api/generations/:taskId: the owner's settled job and its files. False: nothing to delete. */
  async deleteJob(userId: string, taskId: string): Promise<"deleted" | "not_found" | "open"> {
    const job = await findUserGeneration(this.deps.db, userId, taskId);
    if (!job || job.deletedAt) return "not_found";
    if (isOpen(job)) return "open";
    const deleted = await markJobDeleted(this.deps.db, job.id, userId);
    if (!deleted) return "not_found";
    await this.removeFiles(deleted);
    return "deleted";
  }

  /** IMAGE_RETENTION_DAYS: deletes the images of jobs settled longer ago. */
  async prune(days: number, options: { limit?: number; signal?: AbortSignal } = {}): Promise<number> {
    if (options.signal?.aborted) return 0;
    const expired = await markExpiredImages(this.deps.db, days, options.limit ?? 500);
    for (const job of expired) await this.removeFiles(job);
    if (expired.length > 0) this.deps.logger.info({ days, pruned: expired.length }, "old images deleted");
    return expired.length;
  }

  /** Best effort: a store that is down leaves the files to the orphan sweep. */
  private async removeFiles(job: Generation): Promise<void> {
    // A batch's inputs stay while another of its jobs keeps its images (the orphan sweep otherwise).
    const inputs = await inputKeysToRemove(this.deps.db, job).catch(() => []);
    const keys = [job.imageKey, job.imageThumbKey, ...inputs];
    for (const key of keys) {
      if (!key) continue;
      await this.deps.store.delete(key).catch((error) => {
        this.deps.logger.warn(
          { jobId: job.id, err: error },
          "could not delete a stored image; the sweep will",
        );
      });
    }
  }

  /**
   * Removes what nothing refers to: files of deleted or unknown jobs, copies whose row was never
   * updated (a crash between the put and the settlement), temp and spool files of processes that are gone.
   * Files younger than `graceMs` and files of open jobs are left alone.
   */
  async sweepOrphans(
    options: { graceMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ orphans: number; temp: number }> {
    const graceMs = options.graceMs ?? ORPHAN_GRACE_MS;
    const temp =
      (await this.deps.store.sweepIncomplete({ olderThanMs: TEMP_MAX_AGE_MS })) + (await this.sweepSpools());
    let orphans = 0;
    for (const prefix of ["results/", "inputs/"]) {
      let batch: { key: string; jobId?: string }[] = [];
      const flush = async () => {
        orphans += await this.removeUnused(batch);
        batch = [];
      };
      for await (const entry of this.deps.store.list(prefix)) {
        if (options.signal?.aborted) break;
        if (Date.now() - entry.lastModified.getTime() < graceMs) continue;
        batch.push({ key: entry.key, jobId: jobIdOfKey(entry.key) });
        if (batch.length >= 200) await flush();
      }
      await flush();
    }
    if (orphans + temp > 0) this.deps.logger.info({ orphans, temp }, "orphan image files removed");
    return { orphans, temp };
  }

  /**
   * Removes spool files and upload folders that a crash left (this host's dead processes, or any
   * older than an hour): at start-up and in every orphan sweep.
   */
  async sweepSpools(): Promise<number> {
    const dirs = [this.deps.spoolDir, this.deps.uploadSpoolDir].filter((dir): dir is string => !!dir);
    let removed = 0;
    for (const dir of dirs) removed += await sweepTempFiles(dir, TEMP_MAX_AGE_MS);
    return removed;
  }

  private async removeUnused(batch: { key: string; jobId?: string }[]): Promise<number> {
    const ids = [...new Set(batch.flatMap((entry) => (entry.jobId ? [entry.jobId] : [])))];
    const [inUse, open] = await Promise.all([keysInUse(this.deps.db, ids), openJobIds(this.deps.db, ids)]);
    let removed = 0;
    for (const entry of batch) {
      if (inUse.has(entry.key) || (entry.jobId && open.has(entry.jobId))) continue;
      await this.deps.store.delete(entry.key);
      removed++;
    }
    return removed;
  }
}

function warningsFor(job: Generation, image: StoredImage): string[] {
  const params = job.params as { aspectRatio?: string };
  const warning = aspectRatioWarning(params.aspectRatio, image.width, image.height);
  return warning ? [warning] : [];
}

async function* hashedChunks(blob: Blob, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array> {
  for await (const chunk of blob.stream()) {
    hash.update(chunk);
    yield chunk;
  }
}
