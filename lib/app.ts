/**
 * The composition root: turns the validated config into the running pieces (logger, database,
 * KIE client, authenticator) once per process. Route handlers and the instrumentation hook call
 * getApp(); nothing here runs at import time, so `next build` can import every route safely.
 */

import { type AppConfig, getConfig, imageSecretConfigError, type KieMode, signInConfigError } from "@/config";
import type { Authenticator } from "@/lib/auth";
import type { AccountRegistry } from "@/lib/credits";
import { preparePrivateDataDir } from "@/lib/dataDir";
import { type Database, openDatabase } from "@/lib/db";
import { purgeExpiredIdempotencyKeys } from "@/lib/db/idempotency";
import type { GenerationService } from "@/lib/generation";
import type { KieBudget } from "@/lib/generation/budget";
import type { ImageLibrary } from "@/lib/generation/images";
import type { ResultImages } from "@/lib/generation/resultImages";
import type { RateLimiter } from "@/lib/http/rateLimit";
import { createUploadGate, type UploadGate } from "@/lib/http/uploadGate";
import type { IKieClient } from "@/lib/kie";
import { createLogger, type Logger } from "@/lib/observability/logger";
import { createMetrics, type Metrics } from "@/lib/observability/metrics";
import type { ImageStore } from "@/lib/storage";
import type { ImageLinks } from "@/lib/storage/links";

import {
  type Closable,
  closeAll,
  connectKie,
  createAuth,
  createGenerations,
  createImages,
  createKieBudgets,
  type ImageProxyPool,
  startRateLimiter,
  sweepImages,
} from "./compose";
export interface App {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  /** Generate requests per user and per IP (memory, or Redis shared by all instances). */
  rateLimiter: RateLimiter;
  /** Generate bodies being read: per user and in all, and the disk floor (DESIGN.md §3 "Requests"). */
  uploads: UploadGate;
  kie: IKieClient;
  kieMode: KieMode;
  /** KIE's account-wide budget in the database, shared by every instance (KIE_CREATE_LIMIT, KIE_READ_LIMIT). */
  budget: KieBudget;
  imageProxy: ImageProxyPool;
  database: Database;
  auth: Authenticator;
  generations: GenerationService;
  accounts: AccountRegistry;
  /** Where results are kept (IMAGE_STORE), the signed links to them, and serving them. */
  imageStore: ImageStore;
  imageLinks: ImageLinks;
  images: ImageLibrary;
  /** Copies, deletes, prunes and sweeps stored results. */
  resultImages: ResultImages;
  /** The dev-mode signing secret; undefined in Supabase mode. */
  devSecret?: Uint8Array;
  /** The jobs' maintenance: settle stale jobs, drop expired idempotency keys. */
  sweepJobs(
    signal?: AbortSignal,
  ): Promise<{ examined: number; settled: number; idempotencyKeysPurged: number }>;
  /** The images' maintenance (its own loop: a slow store never holds up the jobs' sweep). */
  sweepImages(signal?: AbortSignal): Promise<{ imagesCopied: number; imagesPruned: number }>;
  /** Both side by side (cron): settle stale jobs, drop expired idempotency keys, copy, prune. */
  sweep(signal?: AbortSignal): Promise<{
    examined: number;
    settled: number;
    imagesCopied: number;
    imagesPruned: number;
    idempotencyKeysPurged: number;
  }>;
  close(): Promise<void>;
}

export interface CreateAppOptions {
  /** An already open database (tests: in-memory PGlite or a throwaway Postgres); not closed by the app. */
  database?: Database;
  /** Trust this simulator origin in the image proxy (tests that run their own kie-sim). */
  simulatorOrigin?: string;
  /** Where log lines go (tests read them back); default stdout at LOG_LEVEL. */
  logger?: Logger;
}

/**
 * Builds the App from its parts (lib/compose.ts). Over 60 lines only because it returns the App's
 * twenty fields by name; every step is a call.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<App> {
  // Sign-in fails closed, and a fleet needs one image link secret: the server does not start.
  const refusal = signInConfigError(config) ?? imageSecretConfigError(config);
  if (refusal) throw refusal;
  preparePrivateDataDir(config.dataDir); // before anything writes there (the database, secrets)
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = createMetrics();
  const toClose: Closable[] = [];
  try {
    const database =
      options.database ??
      (await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        logger: logger.child({ component: "db" }),
      }));
    if (!options.database) toClose.push(database);

    const { budget, readGate } = createKieBudgets(config, { database, metrics });
    const { kie, imageProxy } = await connectKie(config, {
      logger,
      metrics,
      toClose,
      simulatorOrigin: options.simulatorOrigin,
      readGate,
    });

    const rateLimiter = await startRateLimiter(config, { logger, toClose });

    const { auth, devSecret } = createAuth(config, logger, database, rateLimiter);

    const { imageStore, imageLinks, images, resultImages } = await createImages(config, {
      db: database.db,
      imageProxy,
      logger,
      toClose,
    });

    const { generations, accounts } = await createGenerations(config, {
      database,
      kie,
      budget,
      images: resultImages,
      links: imageLinks,
      logger,
      metrics,
      toClose,
    });

    const orphanSweep = { lastAt: 0 };
    const sweepJobs = async (signal?: AbortSignal) => {
      const jobs = await generations.reconcile({ limit: 200, signal });
      return { ...jobs, idempotencyKeysPurged: await purgeExpiredIdempotencyKeys(database.db) };
    };
    const imageSweep = (signal?: AbortSignal) =>
      sweepImages(resultImages, { retentionDays: config.images.retentionDays, orphanSweep, logger, signal });
    return {
      config,
      logger,
      metrics,
      rateLimiter,
      uploads: createUploadGate(config.uploads, config.dataDir),
      kie,
      kieMode: config.kie.mode,
      budget,
      imageProxy,
      database,
      auth,
      generations,
      accounts,
      devSecret,
      imageStore,
      imageLinks,
      images,
      resultImages,
      sweepJobs,
      sweepImages: imageSweep,
      sweep: async (signal) => {
        // Side by side: a slow store never holds up the jobs' sweep.
        const [jobs, images] = await Promise.all([sweepJobs(signal), imageSweep(signal)]);
        return { ...jobs, ...images };
      },
      close: () => closeAll(toClose),
    };
  } catch (error) {
    await closeAll(toClose);
    throw error;
  }
}

const holder = globalThis as typeof globalThis & { __nanoBananaApp?: Promise<App> };

/** The process-wide app, created on first use. A failed start is not cached, so a retry can succeed. */
export function getApp(): Promise<App> {
  if (!holder.__nanoBananaApp) {
    const starting = createApp(getConfig());
    holder.__nanoBananaApp = starting;
    starting.catch(() => {
      if (holder.__nanoBananaApp === starting) holder.__nanoBananaApp = undefined;
    });
  }
  return holder.__nanoBananaApp;
}

/** Makes getApp() — and so every route handler — use `app` (tests drive the handlers directly). */
export function installApp(app: App | undefined): void {
  holder.__nanoBananaApp = app ? Promise.resolve(app) : undefined;
}

/** Stops what getApp() started (SIGTERM). */
export async function shutdownApp(): Promise<void> {
  const current = holder.__nanoBananaApp;
  holder.__nanoBananaApp = undefined;
  if (current) await (await current.catch(() => undefined))?.close();
}
