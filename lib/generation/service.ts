/**
 * The generation use case, framework-free (DESIGN.md §4, §5): create a job, refresh it from KIE,
 * settle it exactly once, take KIE's callbacks and sweep what is left pending. No HTTP here: the
 * route handlers translate requests in and results out.
 *
 * Too long to hold at once (over 300 lines): the split into create/refresh/settle/reconcile modules
 * behind a provider port is the redesign issue ("One home per concept"), not yet done; callbacks
 * and waiting already live in callbacks.ts and watch.ts.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chooseModel, type ImageGenerationRequest, type ModelCredits, priceOf } from "@/lib/catalog";
import { type AccountRegistry, balance, reserve } from "@/lib/credits";
import type { AppDatabase } from "@/lib/db";
import {
  attachKieTask,
  attachLateResult,
  claimRefreshLease,
  claimStaleGenerations,
  findGeneration,
  findUserGeneration,
  type GenerationPageCursor,
  insertGeneration,
  listUserGenerations,
  markProcessing,
} from "@/lib/db/generations";
import { attachIdempotencyJob } from "@/lib/db/idempotency";
import type { Generation } from "@/lib/db/schema";
import {
  fullJitterDelay,
  type IKieClient,
  isAmbiguousCreateFailure,
  KieError,
  parseKieCallback,
  TaskFailedError,
  type TaskRecord,
} from "@/lib/kie";
import type { Logger } from "@/lib/observability/logger";
import type { ImageLinks } from "@/lib/storage/links";
import {
  CALLBACK_LEASE_MS,
  type CallbackInput,
  type CallbackVerdict,
  hashToken,
  KieCallbacks,
} from "./callbacks";
import { JobInDoubtError } from "./errors";
import type { JobEvents } from "./events";
import type { ResultImages } from "./resultImages";
import { type SettleInput, settle } from "./settle";
import { type JobView, toJobView } from "./view";
import { isOpen, JobWatches, type WatchSchedule } from "./watch";

export interface GenerationSettings {
  /** CREDITS_PER_GENERATION: the price of anything MODEL_CREDITS does not name. */
  costPerGeneration: number;
  /** MODEL_CREDITS: price per catalogue model, or per `model:resolution`. */
  modelCredits?: ModelCredits;
  textModel: string;
  editModel: string;
  /** KIE_POLL_BUDGET_MS: how long a sync request waits. */
  pollBudgetMs: number;
  /** KIE_TIMEOUT_MS: an unfinished job is then `timeout` and its credits are released. */
  jobTimeoutMs: number;
  /** APP_URL: when set, KIE is given a callBackUrl and polling of KIE backs off. */
  appUrl?: string;
  webhookHmacKey?: string;
  /** Deadline of one KIE read in a reconciler sweep (default 10 s). */
  reconcileReadTimeoutMs?: number;
  /** Whether settle() also sends a Postgres NOTIFY (several instances may be waiting). */
  notifyAcrossInstances: boolean;
}

export interface LocalImageFile {
  data: Blob;
  mimeType: string;
  fileName?: string;
}

export interface CreateGenerationInput {
  userId: string;
  email?: string;
  /** Validated; `images` holds only https URLs (data URIs and uploads arrive as `files`). */
  request: ImageGenerationRequest;
  files: LocalImageFile[];
  mode: "sync" | "async";
  requestId: string;
  /** Aborts a sync wait (the client went away); the job itself carries on. */
  signal?: AbortSignal;
  idempotencyKey?: string;
  /**
   * The Idempotency-Key claim this request holds: the job is recorded on it in the reserve
   * transaction, so a retry after this request dies answers from the job (never a second one).
   */
  idempotencyClaim?: { key: string; claimToken: string };
  /**
   * Runs once the credits are reserved and before anything is sent to KIE; throwing refuses the
   * request and returns the credits (the per-user rate limit counts only admitted generations).
   */
  admit?: () => Promise<void>;
}

export type CreateGenerationResult =
  /** Sync mode: the job ended (succeeded or failed) within the budget. */
  | { outcome: "settled"; job: JobView; remainingCredits: number; warnings: string[] }
  /** Async mode. */
  | { outcome: "accepted"; job: JobView; remainingCredits: number; pollAfterMs: number; warnings: string[] }
  /** Sync mode: the budget ran out; the job keeps settling in the background. */
  | { outcome: "budget_exhausted"; job: JobView; remainingCredits: number; warnings: string[] };

export type { CallbackInput, CallbackVerdict } from "./callbacks";

export interface RefreshOptions {
  /** The lease interval (default pollAfterMs); 0 for a sync waiter's own schedule. */
  leaseMs?: number;
  /** The caller already holds the lease (the reconciler's claim). */
  leaseHeld?: boolean;
  callbackGraceMs?: number;
  /** Aborts the KIE read (the waiter left, or the job settled meanwhile). */
  signal?: AbortSignal;
  /** When KIE is not read, return the row as it is now rather than the copy passed in. */
  fresh?: boolean;
  /** Told when the read of KIE failed (the reconciler stops reading KIE for the sweep). */
  onReadError?: (error: unknown) => void;
  /** A job past KIE_TIMEOUT_MS is released without its final read (KIE is failing). */
  skipFinalRead?: boolean;
  /** The reconciler is stopping: abandon rather than settle. */
  stop?: AbortSignal;
}

export interface ReconcileOptions {
  limit?: number;
  /** Only this user's jobs (status and history reads sweep a few of the user's own). */
  userId?: string;
  /** Deadline of each KIE read; default the settings' reconcileReadTimeoutMs. */
  readTimeoutMs?: number;
  /** Stops the sweep: reads in flight are aborted, claimed jobs wait for the next sweep. */
  signal?: AbortSignal;
}

export interface GenerationObserver {
  reserved(cost: number): void;
  settled(job: Generation): void;
}

export interface GenerationServiceDeps {
  db: AppDatabase;
  kie: IKieClient;
  events: JobEvents;
  logger: Logger;
  settings: GenerationSettings;
  /** Creates a user's credit account (with the initial grant) on first sight. */
  accounts: AccountRegistry;
  /** Sees each reservation and each settlement exactly once (metrics). */
  observer?: GenerationObserver;
  /** Copies results into our store at settlement (DESIGN.md §9); without it, KIE's URLs are kept. */
  images?: ResultImages;
  /** Signs the image links the API answers with. */
  links?: ImageLinks;
  now?: () => number;
  random?: () => number;
}

export interface StatusReadOptions {
  /** `Prefer: wait`: hold the answer until the job settles or this many ms pass. */
  waitMs?: number;
  /** The client went away: stop waiting. */
  signal?: AbortSignal;
}

/** How long after createTask a callback is expected before KIE is polled instead. */
const CALLBACK_GRACE_MS = 15_000;
/** Reconciler: leave young jobs to their own waiters and pollers. */
const RECONCILE_MIN_AGE_MS = 20_000;
const RECONCILE_INTERVAL_MS = 20_000;
/** A user's own reads sweep at most this many of their stale jobs, this often per instance. */
const USER_SWEEP_LIMIT = 3;
const USER_SWEEP_EVERY_MS = 10_000;
/** KIE reads a sweep runs at once. */
const RECONCILE_PARALLELISM = 8;
/** The longest a status read waits for its own read of KIE (it answers from the row after). */
const STATUS_READ_TIMEOUT_MS = 5_000;
/** A sync request reads KIE one last time this long before its budget ends. */
const SYNC_FINAL_LOOK_MS = 250;
/** A waiter looks again just after the lease it (or anyone) took last has ended. */
const LEASE_MARGIN_MS = 50;
const UPLOAD_PATH = "nano-banana-studio/uploads";

export class GenerationService {
  private readonly db: AppDatabase;
  private readonly kie: IKieClient;
  private readonly events: JobEvents;
  private readonly logger: Logger;
  private readonly settings: GenerationSettings;
  private readonly accounts: AccountRegistry;
  private readonly observer?: GenerationObserver;
  private readonly images?: ResultImages;
  private readonly links?: ImageLinks;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly watches: JobWatches;
  private readonly callbacks: KieCallbacks<TaskRecord>;
  /** When each user's stale jobs were last swept by this instance (a cache). */
  private readonly userSweptAt = new Map<string, number>();

  constructor(deps: GenerationServiceDeps) {
    this.db = deps.db;
    this.kie = deps.kie;
    this.events = deps.events;
    this.logger = deps.logger;
    this.settings = deps.settings;
    this.accounts = deps.accounts;
    this.observer = deps.observer;
    this.images = deps.images;
    this.links = deps.links;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.watches = new JobWatches(deps.events, deps.logger);
    this.callbacks = new KieCallbacks<TaskRecord>({
      db: this.db,
      kie: {
        getTaskStatus: (taskId, opts) => this.kie.getTaskStatus(taskId, opts),
        parseCallback: (body) => parseKieCallback(body),
      },
      logger: this.logger,
      settings: this.settings,
      now: this.now,
      jobs: {
        reread: (job) => this.reread(job),
        apply: (job, record) => this.apply(job, record),
        readAndApply: (job, kieTaskId) => this.readAndApply(job, kieTaskId),
      },
    });
  }

  /** Requests (sync generates, status reads with `Prefer: wait`) waiting for a job right now. */
  get waitingRequests(): number {
    return this.watches.waiters;
  }

  private get callbacksEnabled(): boolean {
    return this.settings.appUrl !== undefined;
  }

  // ------------------------------------------------------------------ create

  async create(input: CreateGenerationInput): Promise<CreateGenerationResult> {
    const log = this.logger.child({ userId: input.userId });
    // A sync request answers within KIE_POLL_BUDGET_MS of its arrival, uploads and createTask included.
    const deadline = this.now() + this.settings.pollBudgetMs;
    const { request } = input;
    const imageCount = (request.images?.length ?? 0) + input.files.length;
    // Throws (a 400 naming the field) for an option the model lacks: nothing reserved, no KIE call.
    const choice = chooseModel(request, imageCount, this.settings);
    const model = choice.kieModel;
    const cost = priceOf(
      { perGeneration: this.settings.costPerGeneration, byModel: this.settings.modelCredits ?? {} },
      choice,
    );

    await this.accounts.ensure(input.userId, input.email);

    // The job row and its reserve are written together, before anything reaches KIE (§5).
    const jobId = randomUUID();
    const callbackToken = this.callbacksEnabled ? randomBytes(32).toString("base64url") : undefined;
    const { remaining } = await this.db.transaction(async (tx) => {
      await insertGeneration(tx, {
        id: jobId,
        userId: input.userId,
        type: imageCount > 0 ? "image_edit" : "text_to_image",
        model,
        prompt: request.prompt,
        params: {
          aspectRatio: request.aspectRatio,
          resolution: choice.resolution,
          googleSearch: request.googleSearch,
          outputFormat: request.outputFormat,
          randomSeed: request.randomSeed,
          imageUrls: request.images ?? [],
          uploadedImages: input.files.length,
        },
        cost,
        callbackTokenHash: callbackToken ? hashToken(callbackToken) : null,
        idempotencyKey: input.idempotencyKey,
        requestId: input.requestId,
      });
      const reserved = await reserve(tx, { userId: input.userId, cost, generationId: jobId });
      if (input.idempotencyClaim) {
        await attachIdempotencyJob(tx, {
          userId: input.userId,
          ...input.idempotencyClaim,
          generationId: jobId,
        });
      }
      return reserved;
    });
    this.observer?.reserved(cost);
    log.info({ jobId, model, cost, remaining, mode: input.mode }, "generation accepted, credits reserved");

    const failBeforeKie = async (error: unknown, errorCode: string): Promise<never> => {
      await this.settle(jobId, { status: "failed", errorCode, errorMessage: messageOf(error) });
      throw error;
    };

    if (input.admit) await input.admit().catch((error) => failBeforeKie(error, "rate_limited"));

    // KIE deletes uploads after ~3 days: our copies (best effort) keep an edit's inputs (§9).
    const storingInputs = this.images?.storeInputs(jobId, input.files);
    const uploadedUrls = await Promise.all(
      input.files.map((file) =>
        this.kie
          .uploadFile(
            { data: file.data, mimeType: file.mimeType, fileName: file.fileName },
            { requestId: input.requestId, uploadPath: UPLOAD_PATH },
          )
          .then((uploaded) => uploaded.downloadUrl),
      ),
    ).catch((error) => failBeforeKie(error, "upstream_error"));
    await storingInputs;

    // Slow uploads can outlast KIE_TIMEOUT_MS: if the reconciler has meanwhile timed the job out
    // (credits released), a createTask now would be a paid KIE task for a released job.
    const beforeCreate = (await findGeneration(this.db, jobId)) as Generation;
    if (!isOpen(beforeCreate)) {
      log.warn({ jobId, status: beforeCreate.status }, "job settled before createTask; not sent");
      const remainingCredits = (await balance(this.db, input.userId)) ?? 0;
      return { outcome: "settled", job: this.view(beforeCreate), remainingCredits, warnings: [] };
    }

    let created: { taskId: string; warnings: string[] };
    try {
      created = await this.kie.generateImage(
        {
          ...request,
          model,
          resolution: choice.resolution,
          images: undefined,
          imageUrls: [...(request.images ?? []), ...uploadedUrls],
        },
        {
          requestId: input.requestId,
          callBackUrl: callbackToken ? this.callbacks.url(jobId, callbackToken) : undefined,
        },
      );
    } catch (error) {
      if (isAmbiguousCreateFailure(error) && this.callbacksEnabled) {
        // KIE may have created (and will charge for) the task: its callback can still attach it;
        // otherwise the reconciler releases the credits after KIE_TIMEOUT_MS.
        log.warn({ jobId, err: error }, "createTask failed ambiguously; job left pending for its callback");
        throw new JobInDoubtError(jobId, { cause: error });
      }
      return failBeforeKie(error, "upstream_error");
    }
    await attachKieTask(this.db, jobId, created.taskId);
    log.info({ jobId, kieTaskId: created.taskId }, "KIE task created");

    let job = (await findGeneration(this.db, jobId)) as Generation;
    if (input.mode === "async") {
      return {
        outcome: "accepted",
        job: this.view(job),
        remainingCredits: remaining,
        pollAfterMs: this.pollAfterMs(job),
        warnings: created.warnings,
      };
    }

    job = await this.waitForSettlement(job, deadline, input.signal);
    const remainingCredits = (await balance(this.db, input.userId)) ?? 0;
    if (job.status === "pending" || job.status === "processing") {
      log.warn({ jobId, budgetMs: this.settings.pollBudgetMs }, "sync wait budget ran out; job continues");
      return {
        outcome: "budget_exhausted",
        job: this.view(job),
        remainingCredits,
        warnings: created.warnings,
      };
    }
    return { outcome: "settled", job: this.view(job), remainingCredits, warnings: created.warnings };
  }

  private view(job: Generation): JobView {
    return toJobView(job, this.links);
  }

  /**
   * The answer for a request whose earlier attempt (same Idempotency-Key and body) created `jobId`
   * and then stopped: that job as it is now (202 while open, else its result), waited for like
   * the original in sync mode. Nothing new is created or charged.
   */
  async resume(
    userId: string,
    jobId: string,
    options: { mode: "sync" | "async"; signal?: AbortSignal },
  ): Promise<CreateGenerationResult | undefined> {
    const deadline = this.now() + this.settings.pollBudgetMs;
    const found = await findUserGeneration(this.db, userId, jobId);
    if (!found) return undefined;
    let job = found;
    if (isOpen(job) && options.mode === "sync")
      job = await this.waitForSettlement(job, deadline, options.signal);
    const remainingCredits = (await balance(this.db, userId)) ?? 0;
    if (!isOpen(job)) return { outcome: "settled", job: this.view(job), remainingCredits, warnings: [] };
    return options.mode === "sync"
      ? { outcome: "budget_exhausted", job: this.view(job), remainingCredits, warnings: [] }
      : {
          outcome: "accepted",
          job: this.view(job),
          remainingCredits,
          pollAfterMs: this.pollAfterMs(job),
          warnings: [],
        };
  }

  /** Sync mode: woken by any settlement; looks at KIE (single-flight) only as the fallback. */
  private async waitForSettlement(
    job: Generation,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<Generation> {
    return this.watches
      .follow(job, this.syncSchedule, { deadline, now: this.now, signal })
      .catch(() => this.reread(job)); // the client left: answer (to no one) with the row as it is
  }

  private readonly syncSchedule: WatchSchedule = {
    name: "sync",
    look: (job, signal) =>
      this.refresh(job, { leaseMs: 0, callbackGraceMs: this.syncCallbackGraceMs, signal, fresh: true }),
    reread: (job) => this.reread(job),
    nextLookIn: (job, attempt) => this.fallbackPollDelay(job, attempt),
    finalLookMs: SYNC_FINAL_LOOK_MS,
  };

  /** `Prefer: wait` on a status read: the normal lease schedule, as a poller would keep. */
  private readonly statusSchedule: WatchSchedule = {
    name: "status",
    look: (job, signal) => this.refresh(job, { signal, fresh: true }),
    reread: (job) => this.reread(job),
    nextLookIn: (job) => {
      if (this.callbacksEnabled && job.kieTaskId) {
        const untilGraceEnds = job.createdAt.getTime() + CALLBACK_GRACE_MS - this.now();
        if (untilGraceEnds > 0) return untilGraceEnds + LEASE_MARGIN_MS;
      }
      return this.pollAfterMs(job) + LEASE_MARGIN_MS;
    },
  };

  private async reread(job: Generation): Promise<Generation> {
    return (await findGeneration(this.db, job.id)) ?? job;
  }

  /**
   * A waiting request gives the callback a third of its budget at most before it reads KIE
   * itself: a short KIE_POLL_BUDGET_MS must still leave time to find a finished image.
   */
  private get syncCallbackGraceMs(): number {
    return Math.min(CALLBACK_GRACE_MS, this.settings.pollBudgetMs / 3);
  }

  private fallbackPollDelay(job: Generation, attempt: number): number {
    if (this.callbacksEnabled) {
      const untilGraceEnds = job.createdAt.getTime() + this.syncCallbackGraceMs - this.now();
      if (untilGraceEnds > 0) return untilGraceEnds;
    }
    // Full jitter with a floor: spread out, but never a hammering loop.
    return Math.max(750, fullJitterDelay(attempt, { baseMs: 1_000, maxMs: 5_000 }, this.random));
  }

  // ------------------------------------------------------------------ read

  /** The user's job (by our id or KIE's task id), refreshed from KIE at most once per interval. */
  async getForUser(
    userId: string,
    taskId: string,
    options: StatusReadOptions = {},
  ): Promise<{ job: JobView; remainingCredits: number; pollAfterMs?: number } | undefined> {
    const sweeping = this.sweepUserSoon(userId);
    const found = await findUserGeneration(this.db, userId, taskId);
    if (!found) return sweeping.then(() => undefined);
    // A status read answers promptly even when KIE hangs: its own read of KIE is bounded.
    let job = isOpen(found)
      ? await this.refresh(found, { signal: AbortSignal.timeout(STATUS_READ_TIMEOUT_MS) })
      : found;
    if (isOpen(job) && options.waitMs && options.waitMs > 0) {
      // Held until the job settles or the wait ends; no connection is held meanwhile (§3).
      const deadline = this.now() + options.waitMs;
      job = await this.watches
        .follow(job, this.statusSchedule, { deadline, now: this.now, signal: options.signal })
        .catch(() => this.reread(job)); // the client left
    }
    await sweeping;
    return {
      job: this.view(job),
      remainingCredits: (await balance(this.db, userId)) ?? 0,
      pollAfterMs: isOpen(job) ? this.pollAfterMs(job) : undefined,
    };
  }

  async list(
    userId: string,
    options: { limit: number; cursor?: GenerationPageCursor },
  ): Promise<{ jobs: JobView[]; next?: GenerationPageCursor }> {
    await this.sweepUserSoon(userId); // the page then shows them settled
    const rows = await listUserGenerations(this.db, userId, { ...options, limit: options.limit + 1 });
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      jobs: page.map((row) => this.view(row)),
      next: rows.length > options.limit && last ? { id: last.id } : undefined,
    };
  }

  /**
   * Serverless hosts have no timer and may have no cron: a user's status and history reads sweep
   * a few of that user's own stale jobs (at most every USER_SWEEP_EVERY_MS per instance), so
   * their credits come back anyway. Bounded: short KIE reads; a failure only logs.
   */
  private sweepUserSoon(userId: string): Promise<void> {
    const last = this.userSweptAt.get(userId);
    if (last !== undefined && this.now() - last < USER_SWEEP_EVERY_MS) return Promise.resolve();
    if (this.userSweptAt.size >= 10_000) this.userSweptAt.clear(); // a cache, not a record
    this.userSweptAt.set(userId, this.now());
    return this.reconcile({ userId, limit: USER_SWEEP_LIMIT, readTimeoutMs: STATUS_READ_TIMEOUT_MS }).then(
      () => undefined,
      (error) => this.logger.warn({ userId, err: error }, "could not sweep the user's stale jobs"),
    );
  }

  /**
   * A hint for pollers that grows with the job's age (young jobs change fast, old ones slowly);
   * also the refresh lease: the shortest time between two KIE reads of one job.
   */
  pollAfterMs(job: Generation): number {
    const age = this.now() - job.createdAt.getTime();
    if (age < 10_000) return 1_000;
    if (age < 30_000) return 2_000;
    if (age < 120_000) return 5_000;
    return 10_000;
  }

  // ------------------------------------------------------------------ refresh and settle

  /**
   * Brings an open job up to date: times it out when KIE_TIMEOUT_MS has passed, otherwise reads
   * KIE if this caller wins the refresh lease (everyone else answers from the row).
   */
  async refresh(job: Generation, options: RefreshOptions = {}): Promise<Generation> {
    if (!isOpen(job)) return job;
    // A caller that keeps the row across waits asks for it fresh when KIE is not read: a path that
    // loses the lease must not keep a stale copy (DESIGN.md §5).
    const unread = () => (options.fresh ? this.reread(job) : job);
    const age = this.now() - job.createdAt.getTime();
    const expired = age >= this.settings.jobTimeoutMs;
    if (!options.leaseHeld) {
      // Nothing to read before createTask answered; while a callback is expected, KIE is only
      // read once the callback is late.
      const grace = options.callbackGraceMs ?? CALLBACK_GRACE_MS;
      if (!expired && (!job.kieTaskId || (this.callbacksEnabled && age < grace))) return unread();
      // KIE is read at most once per pollAfterMs per job, across all clients and instances.
      const interval = expired ? CALLBACK_LEASE_MS : (options.leaseMs ?? this.pollAfterMs(job));
      if (!(await claimRefreshLease(this.db, job.id, interval))) return unread();
    }
    if (expired) return this.expire(job, options);
    return job.kieTaskId ? this.readAndApply(job, job.kieTaskId, options.signal, options.onReadError) : job;
  }

  private async readAndApply(
    job: Generation,
    kieTaskId: string,
    signal?: AbortSignal,
    onReadError?: (error: unknown) => void,
  ): Promise<Generation> {
    let record: TaskRecord;
    try {
      record = await this.kie.getTaskStatus(kieTaskId, { requestId: job.requestId ?? job.id, signal });
    } catch (error) {
      onReadError?.(error);
      if (signal?.aborted) return job; // nobody needs the answer any more, or its deadline passed
      this.logger.warn(
        { jobId: job.id, kieTaskId, err: error },
        "could not read the KIE task; will retry later",
      );
      return job;
    }
    return this.apply(job, record);
  }

  /** Applies what KIE says about the job's task. */
  private async apply(job: Generation, record: TaskRecord): Promise<Generation> {
    const elapsedMs = this.now() - job.createdAt.getTime();
    if (record.state === "success") {
      if (record.resultUrls.length === 0) {
        return (
          (await this.settle(job.id, {
            status: "failed",
            errorCode: "upstream_error",
            errorMessage: "The image service reported success but returned no image.",
          })) ?? job
        );
      }
      this.logger.info({ jobId: job.id, kieTaskId: record.taskId, elapsedMs }, "KIE task succeeded");
      const outcome = await this.settlementOf(job, record.resultUrls);
      if (!outcome) return job; // KIE's file is out of reach for now: the next read tries again
      const settled = (await this.settle(job.id, outcome)) ?? job;
      if (settled.status === "timeout" && (await attachLateResult(this.db, job.id, record.resultUrls))) {
        // We had given up (credits released): the image is delivered anyway, free of charge.
        this.logger.info({ jobId: job.id }, "late result attached to a timed-out job (not charged)");
        return { ...settled, resultUrls: record.resultUrls };
      }
      return settled;
    }
    if (record.state === "fail") {
      this.logger.info(
        { jobId: job.id, kieTaskId: record.taskId, failCode: record.failCode, elapsedMs },
        "KIE task failed",
      );
      return (
        (await this.settle(job.id, {
          status: "failed",
          errorCode: "generation_failed",
          errorMessage: record.failMsg ?? "The image could not be generated.",
        })) ?? job
      );
    }
    if ((record.state === "queuing" || record.state === "generating") && job.status === "pending") {
      this.logger.info({ jobId: job.id, state: record.state, elapsedMs }, "KIE task is running");
      await markProcessing(this.db, job.id);
      return { ...job, status: "processing" };
    }
    return job;
  }

  /**
   * How a success settles (DESIGN.md §9): succeeded once the image is in our store; succeeded on
   * KIE's URL, not yet stored, when the store is down; failed (credits released) when the result
   * is not an image or over the cap; undefined (stay open) when KIE's file cannot be fetched now.
   * A job already settled is not copied again here (a late result is copied by the reconciler).
   */
  private async settlementOf(job: Generation, resultUrls: string[]): Promise<SettleInput | undefined> {
    const succeeded: SettleInput = { status: "succeeded", resultUrls };
    if (!this.images || !isOpen(job)) return succeeded;
    const copy = await this.images.copyAtSettlement(job, resultUrls[0] as string);
    switch (copy.kind) {
      case "stored":
        return { ...succeeded, image: copy.image, warnings: copy.warnings };
      case "store_down":
      case "uncopyable":
        return succeeded;
      case "rejected":
        // No resultUrls: a failed job shows no image (KIE's URL is in the log).
        return { status: "failed", errorCode: "upstream_error", errorMessage: copy.message };
      case "source_unavailable":
        return undefined;
    }
  }

  /** KIE_TIMEOUT_MS passed: one last look at KIE (deliver a finished image), else `timeout`. */
  private async expire(job: Generation, options: RefreshOptions = {}): Promise<Generation> {
    if (job.kieTaskId && !options.skipFinalRead) {
      const looked = await this.readAndApply(job, job.kieTaskId, options.signal, options.onReadError);
      if (!isOpen(looked)) return looked;
      // Shutting down: leave the job to the next sweep rather than give up on a read we cut short.
      if (options.stop?.aborted) return looked;
    }
    this.logger.warn(
      { jobId: job.id, timeoutMs: this.settings.jobTimeoutMs },
      "job timed out; credits released",
    );
    return (
      (await this.settle(job.id, {
        status: "timeout",
        errorCode: "upstream_timeout",
        errorMessage: "The image service did not finish in time. Your credits were returned.",
      })) ??
      (await findGeneration(this.db, job.id)) ??
      job
    );
  }

  /** Exactly once per job: the winner writes the outcome and captures or releases the credits. */
  private async settle(jobId: string, input: SettleInput): Promise<Generation | undefined> {
    const settled = await settle(this.db, jobId, input, {
      notify: this.settings.notifyAcrossInstances,
    });
    if (!settled) return findGeneration(this.db, jobId);
    this.events.settled(jobId);
    this.observer?.settled(settled);
    this.logger.info(
      { jobId, status: settled.status, credits: settled.status === "succeeded" ? "captured" : "released" },
      "job settled",
    );
    return settled;
  }

  /**
   * Checks a callback and returns the work to do (lib/generation/callbacks.ts). The body is never
   * trusted: the work re-reads the task from KIE.
   */
  verifyCallback(input: CallbackInput): Promise<CallbackVerdict> {
    return this.callbacks.verify(input);
  }

  // ------------------------------------------------------------------ reconciler

  /**
   * One sweep: claims stale open jobs (a lease: `refreshed_at` is set in one SKIP LOCKED UPDATE,
   * so other sweeps pass them over for RECONCILE_INTERVAL_MS) and refreshes them a few at a time,
   * each KIE read under a deadline — which also times out the ones past KIE_TIMEOUT_MS. Once a
   * read fails, KIE counts as failing for the rest of the sweep: timed-out jobs are released
   * without their final read, the others wait for the next sweep. So a sweep takes about one read
   * deadline even when KIE hangs, and never outlasts its claim.
   */
  async reconcile(options: ReconcileOptions = {}): Promise<{ examined: number; settled: number }> {
    const started = this.now();
    const readTimeoutMs = options.readTimeoutMs ?? this.settings.reconcileReadTimeoutMs ?? 10_000;
    const budgetMs = Math.max(1_000, RECONCILE_INTERVAL_MS - readTimeoutMs - 2_000);
    const claimed = await claimStaleGenerations(this.db, {
      limit: options.limit ?? 50,
      // Young jobs are left to their waiters, unless they are already past KIE_TIMEOUT_MS.
      minAgeMs: Math.min(RECONCILE_MIN_AGE_MS, this.settings.jobTimeoutMs),
      intervalMs: RECONCILE_INTERVAL_MS,
      userId: options.userId,
    });
    let kieFailing = false;
    let settled = 0;
    await forEachLimited(claimed, RECONCILE_PARALLELISM, async (job) => {
      if (options.signal?.aborted) return;
      const expired = this.now() - job.createdAt.getTime() >= this.settings.jobTimeoutMs;
      if (kieFailing && !expired) return;
      // A KIE read now could outlast the claim; a release without one cannot.
      if (!(kieFailing && expired) && this.now() - started > budgetMs) return;
      const deadline = AbortSignal.timeout(readTimeoutMs);
      try {
        const after = await this.refresh(job, {
          leaseHeld: true,
          signal: options.signal ? AbortSignal.any([options.signal, deadline]) : deadline,
          stop: options.signal,
          skipFinalRead: kieFailing,
          onReadError: (error) => {
            // A timeout, a network error or a 5xx: KIE is failing. A refusal (404, 422) is not.
            if (!(error instanceof KieError) || error.retryable) kieFailing = true;
          },
        });
        if (!isOpen(after)) settled++;
      } catch (error) {
        this.logger.error({ jobId: job.id, err: error }, "reconciler could not refresh a job");
      }
    });
    if (claimed.length > 0)
      this.logger.info(
        { examined: claimed.length, settled, kieFailing, elapsedMs: this.now() - started },
        "reconciler sweep",
      );
    return { examined: claimed.length, settled };
  }
}

function messageOf(error: unknown): string {
  if (error instanceof TaskFailedError) return error.failMsg ?? error.message;
  if (error instanceof KieError)
    return `${error.endpoint}: ${error.kind}${error.code ? ` (${error.code})` : ""}`;
  return error instanceof Error ? error.message.slice(0, 300) : "failed";
}

/** Runs `work` on every item, at most `limit` at a time. */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
