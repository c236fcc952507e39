/**
 * What every part of the use case shares (create, refresh, wait, read, reconcile): its
 * dependencies, its settings and the little state an instance keeps (the waits in progress, when
 * each user was last swept). One object passed to plain functions, instead of a class with a
 * dozen private fields; GenerationService (service.ts) builds it once.
 */
import type { ModelCredits } from "@/lib/catalog";
import type { AccountRegistry } from "@/lib/credits";
import type { AppDatabase } from "@/lib/db";
import { findGeneration } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import type { ImageLinks } from "@/lib/storage/links";
import { type KieBudget, UNLIMITED_BUDGET } from "./budget";
import { LineDrain } from "./drainLoop";
import type { JobEvents } from "./events";
import { type DurationStore, SharedDurations } from "./learnedDurations";
import { nextPollInMs } from "./pollSchedule";
import type { ImageProvider } from "./provider";
import type { ResultImages } from "./resultImages";
import { type JobView, toJobView } from "./view";
import { JobWatches } from "./watch";

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
  /**
   * KIE_REQUEST_TIMEOUT_MS: how long a createTask may go unanswered (default 30 s). The line sends
   * no job that could reach KIE_TIMEOUT_MS before its createTask answers.
   */
  createTaskTimeoutMs?: number;
  /** Deadline of one KIE read in a reconciler sweep (default 10 s). */
  reconcileReadTimeoutMs?: number;
  /** Whether settle() also sends a Postgres NOTIFY (several instances may be waiting). */
  notifyAcrossInstances: boolean;
  /** KIE_QUEUE_MAX: jobs allowed in line; beyond it a create is refused (503), nothing charged. */
  queueMax?: number;
  /** KIE's create budget (KIE_CREATE_LIMIT per window): the line's ETAs are counted from it. */
  createRate?: { limit: number; windowMs: number };
}

export interface GenerationObserver {
  reserved(cost: number): void;
  settled(job: Generation): void;
  /** A job left the line for KIE after waiting `ms` (a wait-time histogram). */
  leftLine?(ms: number): void;
}

export interface GenerationServiceDeps {
  db: AppDatabase;
  /** The image service (lib/kie/provider.ts adapts KIE to this port). */
  provider: ImageProvider;
  /**
   * KIE's account-wide budget, shared by every instance (lib/db/kieBudget.ts): a createTask takes
   * a token first. Status reads take theirs in the KIE client (readBudget.ts). Default: unlimited.
   */
  budget?: KieBudget;
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
  /** Where the learned poll durations are shared with the other instances (learnedDurations.ts). */
  durationStore?: DurationStore;
  now?: () => number;
  random?: () => number;
}

export interface GenerationContext extends GenerationServiceDeps {
  budget: KieBudget;
  /** This process's drain of the line (drain.ts): woken when a job joins it. */
  line: LineDrain;
  now: () => number;
  random: () => number;
  /** The waits in progress in this process (watch.ts). */
  watches: JobWatches;
  /** When each user's stale jobs were last swept by this instance (a cache). */
  userSweptAt: Map<string, number>;
  /** The user sweeps running in this process (read.ts): one per user at a time. */
  userSweeps: Map<string, Promise<void>>;
  /** How long recent jobs of each model took (pollSchedule.ts), shared by every instance. */
  durations: SharedDurations;
  /**
   * The copy-and-settle of each job KIE reported succeeded, running in this process (apply.ts):
   * one per job however many paths found the success; each path waits for it only up to its own
   * deadline.
   */
  settling: Map<string, Promise<Generation>>;
}

export function createContext(deps: GenerationServiceDeps): GenerationContext {
  const now = deps.now ?? Date.now;
  const ctx: GenerationContext = {
    ...deps,
    budget: deps.budget ?? UNLIMITED_BUDGET,
    line: new LineDrain(),
    now,
    random: deps.random ?? Math.random,
    watches: new JobWatches(deps.events, deps.logger),
    userSweptAt: new Map(),
    userSweeps: new Map(),
    durations: new SharedDurations({ store: deps.durationStore, logger: deps.logger, now }),
    settling: new Map(),
  };
  return ctx;
}

/** How long after createTask a callback is expected before KIE is polled instead. */
export const CALLBACK_GRACE_MS = 15_000;
/** A waiter looks again just after the lease it (or anyone) took last has ended. */
export const LEASE_MARGIN_MS = 50;

/** APP_URL is set: KIE is given a callBackUrl, and polling waits for the callback first. */
export function callbacksEnabled(ctx: GenerationContext): boolean {
  return ctx.settings.appUrl !== undefined;
}

/** The row as it is now (the copy passed in when it is gone). */
export async function reread(ctx: GenerationContext, job: Generation): Promise<Generation> {
  return (await findGeneration(ctx.db, job.id)) ?? job;
}

export function viewOf(ctx: GenerationContext, job: Generation): JobView {
  return toJobView(job, ctx.links);
}

/**
 * A hint for pollers, and the refresh lease: the shortest time between two KIE reads of one job.
 * Read around the time recent jobs of its model took (pollSchedule.ts).
 */
export function pollAfterMs(ctx: GenerationContext, job: Generation): number {
  return nextPollInMs(ageAtKieMs(ctx, job), ctx.durations.typical(job.model));
}

/**
 * When KIE got the job's task: what its polling and its callback's grace count from (a job that
 * waited in line is new to KIE). Before it was sent, or for a row from before the column, its
 * creation. The job's timeout counts from its creation (what the user waited).
 */
export function sentAt(job: Generation): number {
  return (job.submittedAt ?? job.createdAt).getTime();
}

export function ageAtKieMs(ctx: GenerationContext, job: Generation): number {
  return ctx.now() - sentAt(job);
}
