/**
 * The composition root's parts (lib/app.ts assembles them): the KIE client or the embedded
 * simulator, sign-in, the image store and its services, the job use case, the maintenance sweep.
 * Like lib/app.ts, the only place that may import every layer.
 */

import type { Dispatcher } from "undici";
import type { AppConfig } from "@/config";
import {
  type Authenticator,
  createApiKeyVerifier,
  createAuthenticator,
  LAST_USED_EVERY_MS,
  loadOrCreateDevSecret,
} from "@/lib/auth";
import { retiringModelWarning } from "@/lib/catalog";
import { AccountRegistry } from "@/lib/credits";
import type { Database } from "@/lib/db";
import { findApiKeyByHash, touchApiKey } from "@/lib/db/apiKeys";
import { JOB_SETTLED_CHANNEL } from "@/lib/db/generations";
import { createKieBudget } from "@/lib/db/kieBudget";
import { createModelDurationStore } from "@/lib/db/modelDurations";
import { createSessionRevocations } from "@/lib/db/sessions";
import { GenerationService, type ImageProvider, JobEvents } from "@/lib/generation";
import type { KieBudget } from "@/lib/generation/budget";
import { ImageLibrary } from "@/lib/generation/images";
import { createReadGate } from "@/lib/generation/readBudget";
import { ResultImages } from "@/lib/generation/resultImages";
import { createRateLimiter, type RateLimiter } from "@/lib/http/rateLimit";
import { createKieProvider, type IKieClient, KieClient } from "@/lib/kie";
import type { Logger } from "@/lib/observability/logger";
import type { Metrics } from "@/lib/observability/metrics";
import { metricsClosedReason } from "@/lib/observability/metricsEndpoint";
import { fetchProxiedImage } from "@/lib/security/imageProxy";
import { createGuardedDispatcher } from "@/lib/security/urlGuard";
import { createImageStore, type ImageStore, spoolDirOf } from "@/lib/storage";
import { ImageLinks } from "@/lib/storage/links";

/** In DATA_DIR when IMAGE_URL_SECRET is unset: one host's links (set the variable for a fleet). */
const IMAGE_URL_SECRET_FILE = "image-url-secret";

/**
 * The image proxy's connection pool (it resolves DNS itself and refuses private addresses) and
 * the one private origin it may reach: the simulator in use, started here or named by
 * KIE_BASE_URL without KIE_API_KEY (DESIGN.md §6).
 */
export interface ImageProxyPool {
  dispatcher: Dispatcher;
  trustedOrigin?: string;
}

export interface Closable {
  close(): Promise<void> | void;
}

interface WiringContext {
  logger: Logger;
  metrics: Metrics;
  toClose: Closable[];
  simulatorOrigin?: string;
  /** Takes a token of KIE's read budget before each status read (createKieBudgets). */
  readGate?: (signal?: AbortSignal) => Promise<void>;
}

/**
 * KIE's account-wide budget (KIE_CREATE_LIMIT, KIE_READ_LIMIT) in the app's database, so every
 * instance takes from the same counts, and the gate each status read passes (readBudget.ts).
 */
export function createKieBudgets(
  config: AppConfig,
  { database, metrics }: { database: Database; metrics: Metrics },
): { budget: KieBudget; readGate: (signal?: AbortSignal) => Promise<void> } {
  // lib/db knows nothing of lib/generation: the adapter satisfies the port structurally.
  const budget: KieBudget = createKieBudget(database.db, config.kie.budget);
  const readGate = createReadGate(budget, {
    onWait: (outcome) => metrics.kieBudgetWaits.inc({ budget: "read", outcome }),
  });
  return { budget, readGate };
}

/** The KIE client (real KIE, or the simulator started here when KIE_API_KEY is unset) and the image proxy's pool. */
export async function connectKie(
  config: AppConfig,
  { logger, metrics, toClose, readGate, ...options }: WiringContext,
): Promise<{ kie: KieClient; imageProxy: ImageProxyPool }> {
  let { baseUrl, uploadBaseUrl } = config.kie;
  let simulatorOrigin = options.simulatorOrigin;
  if (!baseUrl) {
    // Loaded lazily: production (real KIE) never loads the simulator or its image code.
    const { startKieSim } = await import("@/sim/server");
    const sim = await startKieSim({
      port: config.kie.simPort,
      host: "127.0.0.1",
      // Its /__sim/ control API has no auth and answers any Host: on loopback, a page the
      // operator opens could reach it by DNS rebinding. Nothing here uses it (issue 24).
      controlApi: false,
      logger: logger.child({ component: "kie-sim" }),
    });
    toClose.push(sim);
    baseUrl = sim.url;
    uploadBaseUrl = sim.url;
    simulatorOrigin = new URL(sim.url).origin;
    logger.info({ url: sim.url }, "KIE_API_KEY is not set: using the embedded KIE simulator");
  } else if (config.kie.mode === "simulator") {
    // An external simulator (`npm run sim`) named by KIE_BASE_URL is the one in use: its results
    // are served from its own origin, usually plain http on loopback (DESIGN.md §6).
    simulatorOrigin ??= new URL(baseUrl).origin;
  }

  const proxyTrustedOrigin = config.kie.mode === "simulator" ? simulatorOrigin : undefined;
  const imageProxy = {
    dispatcher: createGuardedDispatcher({ trustedOrigin: proxyTrustedOrigin }),
    trustedOrigin: proxyTrustedOrigin,
  };
  toClose.push(imageProxy.dispatcher);

  const retiring = retiringModelWarning({ textModel: config.kie.model, editModel: config.kie.editModel });
  if (retiring) logger.warn(retiring);
  const kie = new KieClient({
    apiKey: config.kie.apiKey,
    baseUrl,
    uploadBaseUrl: uploadBaseUrl ?? baseUrl,
    requestTimeoutMs: config.kie.requestTimeoutMs,
    // A user is waiting: a short Retry-After is worth honouring, a long one goes back to them as 429.
    maxRetries: 2,
    maxRetryAfterMs: 5_000,
    textModel: config.kie.model,
    editModel: config.kie.editModel,
    nsfwChecker: config.kie.nsfwChecker,
    logger: logger.child({ component: "kie" }),
    onEvent: metrics.observeKieEvent,
    // Every attempt at a status read, retries included, takes a read token (issue 23).
    beforeAttempt: async (endpoint, signal) => {
      if (endpoint === "recordInfo") await readGate?.(signal);
    },
  });
  toClose.push(kie);

  return { kie, imageProxy };
}

/** Generate requests per user and per IP: in memory, or in Redis shared by every instance. */
export async function startRateLimiter(
  config: AppConfig,
  { logger, toClose }: { logger: Logger; toClose: Closable[] },
): Promise<RateLimiter> {
  const rateLimiter = createRateLimiter({
    redis: config.redisUrl ? { url: config.redisUrl } : undefined,
    perUserPerMinute: config.rateLimit.perUserPerMinute,
    perIpPerMinute: config.rateLimit.perIpPerMinute,
    perApiKeyPerMinute: config.rateLimit.perApiKeyPerMinute,
    logger: logger.child({ component: "rate-limit" }),
  });
  toClose.push(rateLimiter);
  // Bounded: a Redis outage must not stop the start (the in-memory insurance limiter answers).
  if (config.redisUrl && !(await rateLimiter.ready())) {
    logger.warn("Redis (REDIS_URL) did not answer within 2 s: rate limits start per instance");
  }

  return rateLimiter;
}

export function createAuth(
  config: AppConfig,
  logger: Logger,
  database: Database,
  rateLimiter: RateLimiter,
): { auth: Authenticator; devSecret?: Uint8Array } {
  const devSecret = config.auth.mode === "dev" ? loadOrCreateDevSecret(config.dataDir) : undefined;
  const auth = createAuthenticator({
    mode: config.auth.mode,
    supabaseUrl: config.auth.supabaseUrl,
    supabaseJwtSecret: config.auth.supabaseJwtSecret,
    adminEmails: config.auth.adminEmails,
    allowAnonymous: config.auth.allowAnonymousUsers,
    secureCookies: config.appUrl?.startsWith("https://") ?? false,
    devSecret,
    // Sign-out ends a session for every instance: a copied token dies with it (DESIGN.md §6).
    sessions: createSessionRevocations(database.db),
    // Looked up by hash on every request (no cache): a revoked key is refused at once everywhere.
    apiKeys: createApiKeyVerifier({
      store: {
        findByHash: (keyHash) => findApiKeyByHash(database.db, keyHash),
        touch: (id) => touchApiKey(database.db, id, LAST_USED_EVERY_MS),
      },
      onUse: (keyId) => rateLimiter.consumeApiKey(keyId),
    }),
  });
  if (config.auth.mode === "dev") {
    logger.warn(
      "Dev sign-in is ON (no SUPABASE_URL or SUPABASE_JWT_SECRET): anyone can sign in with any email " +
        "(never as an admin). Configure Supabase before exposing this server.",
    );
  }
  const metricsClosed = metricsClosedReason(config.metricsToken, config.auth.mode);
  if (metricsClosed) logger.warn(metricsClosed);

  return { auth, devSecret };
}

/** Where results are kept (IMAGE_STORE), their signed links, and the copy/serve services over them. */
export async function createImages(
  config: AppConfig,
  deps: { db: Database["db"]; imageProxy: ImageProxyPool; logger: Logger; toClose: Closable[] },
): Promise<{
  imageStore: ImageStore;
  imageLinks: ImageLinks;
  images: ImageLibrary;
  resultImages: ResultImages;
}> {
  const { db, imageProxy, logger, toClose } = deps;
  const imageStore = await createImageStore(
    config.images.store.kind === "s3"
      ? { ...config.images.store, requestTimeoutMs: 30_000 }
      : { kind: "local", dataDir: config.dataDir },
  );
  toClose.push(imageStore);
  const imageLinks = new ImageLinks(
    config.images.urlSecret
      ? new TextEncoder().encode(config.images.urlSecret)
      : loadOrCreateDevSecret(config.dataDir, IMAGE_URL_SECRET_FILE),
    {
      baseUrl: config.appUrl,
      previousSecrets: config.images.previousUrlSecret
        ? [new TextEncoder().encode(config.images.previousUrlSecret)]
        : [],
    },
  );
  const images = new ImageLibrary({
    db: db,
    store: imageStore,
    redirect: config.images.presignedRedirect,
    fetchSource: (url, signal) =>
      fetchProxiedImage(url, {
        allowedHosts: config.imageProxyAllowedHosts,
        trustedOrigin: imageProxy.trustedOrigin,
        dispatcher: imageProxy.dispatcher,
        signal,
      }),
  });

  const resultImages = new ResultImages({
    db: db,
    store: imageStore,
    spoolDir: spoolDirOf(config.dataDir, "results"),
    uploadSpoolDir: spoolDirOf(config.dataDir, "uploads"),
    logger: logger.child({ component: "images" }),
    fetchSource: (url) =>
      fetchProxiedImage(url, {
        allowedHosts: config.imageProxyAllowedHosts,
        trustedOrigin: imageProxy.trustedOrigin,
        dispatcher: imageProxy.dispatcher,
        maxBytes: RESULT_MAX_BYTES,
        timeoutMs: RESULT_FETCH_TIMEOUT_MS,
      }),
  });

  // What a crash left in the spools (a kill -9 mid-request or mid-copy) goes at start-up.
  await resultImages.sweepSpools().catch((error) => {
    logger.warn({ err: error }, "could not sweep the spool folders; the reconciler will");
  });

  return { imageStore, imageLinks, images, resultImages };
}

/** A result over this is refused (the job fails, credits return): a 4K PNG fits, 30 MiB does not. */
const RESULT_MAX_BYTES = 25 * 1024 * 1024;
const RESULT_FETCH_TIMEOUT_MS = 60_000;
/** The orphan sweep lists the whole store: once every 10 minutes is plenty. */
const ORPHAN_SWEEP_EVERY_MS = 10 * 60_000;

/**
 * The images' share of a maintenance pass: copy what the store missed, prune, sweep orphans. A
 * store that is down fails only its own step (logged); the jobs' sweep has already run.
 */
export async function sweepImages(
  images: ResultImages,
  options: {
    retentionDays: number | undefined;
    orphanSweep: { lastAt: number };
    logger: Logger;
    /** The reconciler's stop: no new step starts, and a running one ends after its current file. */
    signal?: AbortSignal;
  },
): Promise<{ imagesCopied: number; imagesPruned: number }> {
  const { retentionDays, orphanSweep, logger, signal } = options;
  const step = async <T>(name: string, run: () => Promise<T>, fallback: T): Promise<T> => {
    if (signal?.aborted) return fallback;
    try {
      return await run();
    } catch (error) {
      logger.warn({ err: error, step: name }, "image maintenance step failed; next sweep retries");
      return fallback;
    }
  };
  const { copied } = await step("copy", () => images.copyPending({ limit: 20, signal }), {
    copied: 0,
    failed: 0,
  });
  const pruned = retentionDays ? await step("prune", () => images.prune(retentionDays, { signal }), 0) : 0;
  if (!signal?.aborted && Date.now() - orphanSweep.lastAt >= ORPHAN_SWEEP_EVERY_MS) {
    orphanSweep.lastAt = Date.now();
    await step("orphans", () => images.sweepOrphans({ signal }), undefined);
  }
  return { imagesCopied: copied, imagesPruned: pruned };
}

export async function closeAll(items: Closable[]): Promise<void> {
  for (const item of items.reverse()) {
    try {
      await item.close();
    } catch {
      // Shutting down: one failed close must not keep the others open.
    }
  }
}
/** The job use case over its provider (KIE through its adapter), events across instances and the ledger. */
export async function createGenerations(
  config: AppConfig,
  deps: {
    database: Database;
    kie: IKieClient;
    budget: KieBudget;
    images: ResultImages;
    links: ImageLinks;
    logger: Logger;
    metrics: Metrics;
    toClose: Closable[];
  },
): Promise<{ generations: GenerationService; accounts: AccountRegistry }> {
  const { database, kie, logger, metrics, toClose } = deps;
  const resultImages = deps.images;
  const imageLinks = deps.links;
  const events = new JobEvents();
  toClose.push(events);
  if (database.kind === "postgres") {
    // Other instances settle jobs too: their NOTIFYs wake this instance's waiting requests.
    await events.listen(database.pool, JOB_SETTLED_CHANNEL, logger.child({ component: "job-events" }));
  }
  const accounts = new AccountRegistry(database.db, {
    initialCredits: config.credits.initial,
    onGranted: (amount) => metrics.credits.inc({ kind: "granted" }, amount),
  });
  // lib/kie knows nothing of lib/generation: the adapter satisfies the port structurally.
  const provider: ImageProvider = createKieProvider(kie);
  const generations = new GenerationService({
    db: database.db,
    provider,
    budget: deps.budget,
    events,
    accounts,
    logger: logger.child({ component: "generation" }),
    images: resultImages,
    links: imageLinks,
    // lib/db knows nothing of lib/generation: the adapter satisfies the port structurally.
    durationStore: createModelDurationStore(database.db),
    observer: {
      reserved: (cost) => metrics.credits.inc({ kind: "reserved" }, cost),
      settled: (job) => {
        metrics.generations.inc({ outcome: job.status, type: job.type });
        metrics.credits.inc({ kind: job.status === "succeeded" ? "captured" : "released" }, job.cost);
      },
      leftLine: (ms) => metrics.lineWait.observe(ms / 1000),
    },
    settings: {
      costPerGeneration: config.credits.perGeneration,
      modelCredits: config.credits.byModel,
      textModel: config.kie.model,
      editModel: config.kie.editModel,
      pollBudgetMs: config.kie.pollBudgetMs,
      jobTimeoutMs: config.kie.timeoutMs,
      appUrl: config.appUrl,
      webhookHmacKey: config.kie.webhookHmacKey,
      notifyAcrossInstances: database.kind === "postgres",
      createTaskTimeoutMs: config.kie.requestTimeoutMs,
      reconcileReadTimeoutMs: Math.min(config.kie.requestTimeoutMs, 10_000),
      queueMax: config.kie.queueMax,
      createRate: config.kie.budget.create,
    },
  });
  toClose.push(generations);
  // Warm from the first job: what every instance has learned of each model's duration.
  await generations.loadDurations();
  metrics.lineLength.read = async () => (await generations.lineStatus()).length;

  return { generations, accounts };
}
