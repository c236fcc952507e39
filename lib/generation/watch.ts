/**
 * Waiting for a job to settle (sync generate, `GET /api/generate/:taskId` with `Prefer: wait`).
 *
 * All waiters on one job in this process share one watch: one subscription to the settlement
 * announcement and one schedule of looks at the job (a KIE read when the single-flight lease allows
 * it, else a read of the row). So 200 waiting requests hold no database connection and cause no
 * more reads than one. A waiter leaves at its own deadline or abort; the last one to leave stops
 * the watch and aborts its KIE read.
 */
import { type Generation, OPEN_GENERATION_STATUSES } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import { untilAborted } from "./concurrency";
import type { JobEvents, JobSubscription } from "./events";

/** How long a waiter whose deadline came during a look waits for that look to land. */
const LANDING_MS = 500;

export function isOpen(job: Pick<Generation, "status">): boolean {
  return (OPEN_GENERATION_STATUSES as readonly string[]).includes(job.status);
}

/** How one kind of waiter looks at its job. */
export interface WatchSchedule {
  /** Distinguishes schedules: waiters with different schedules get different watches. */
  name: string;
  /**
   * One look at the job. Must return a fresh view: KIE's answer applied, or the row as it is
   * now (never the copy passed in, which may be stale). `signal` aborts a KIE read in flight.
   */
  look(job: Generation, signal: AbortSignal): Promise<Generation>;
  /** The row as it is now. */
  reread(job: Generation): Promise<Generation>;
  /** Milliseconds until the next look (attempt counts looks so far). */
  nextLookIn(job: Generation, attempt: number): number;
  /**
   * Sync waiters: make one last look this long before the earliest waiter's deadline, so a job
   * that finished meanwhile is still found within the budget (its read gets the time left).
   */
  finalLookMs?: number;
}

interface Watch {
  latest: Generation;
  waiters: number;
  /** Each waiting request's deadline. */
  deadlines: number[];
  /** The look in progress, if any. */
  looking?: Promise<unknown>;
  stop: AbortController;
  done: Promise<Generation>;
}

export class JobWatches {
  private readonly watches = new Map<string, Watch>();
  private waiting = 0;

  constructor(
    private readonly events: JobEvents,
    private readonly logger: Logger,
  ) {}

  /** Requests waiting right now in this process (metrics, tests). */
  get waiters(): number {
    return this.waiting;
  }

  /**
   * Resolves with the job once it has left pending/processing, or with its latest view at
   * `deadline`. Rejects with the signal's reason when `signal` aborts first.
   */
  async follow(
    job: Generation,
    schedule: WatchSchedule,
    options: { deadline: number; now: () => number; signal?: AbortSignal },
  ): Promise<Generation> {
    if (!isOpen(job)) return job;
    const key = `${schedule.name}:${job.id}`;
    let watch = this.watches.get(key);
    if (!watch) {
      watch = this.start(job, schedule, options.now);
      this.watches.set(key, watch);
    }
    const current = watch;
    current.waiters++;
    current.deadlines.push(options.deadline);
    this.waiting++;
    try {
      const left = options.deadline - options.now();
      const outcome = await raceDeadline(current.done, left, options.signal);
      if (outcome) return outcome;
      // The deadline came during a sync request's final read: give it a moment to land. A status
      // read's `Prefer: wait=N` answers at N seconds, from the row.
      if (current.looking && schedule.finalLookMs !== undefined)
        await raceDeadline(
          current.looking.catch(() => undefined),
          LANDING_MS,
          options.signal,
        );
      return schedule.reread(current.latest);
    } finally {
      this.waiting--;
      current.waiters--;
      current.deadlines.splice(current.deadlines.indexOf(options.deadline), 1);
      if (current.waiters === 0) {
        current.stop.abort();
        if (this.watches.get(key) === current) this.watches.delete(key);
      }
    }
  }

  private start(job: Generation, schedule: WatchSchedule, now: () => number): Watch {
    const stop = new AbortController();
    const watch: Watch = { latest: job, waiters: 0, deadlines: [], stop, done: Promise.resolve(job) };
    watch.done = this.run(watch, schedule, now).catch((error) => {
      if (!stop.signal.aborted) this.logger.warn({ jobId: job.id, err: error }, "job watch failed");
      return watch.latest;
    });
    return watch;
  }

  private async run(watch: Watch, schedule: WatchSchedule, now: () => number): Promise<Generation> {
    const { stop } = watch;
    for (let attempt = 0; isOpen(watch.latest) && !stop.signal.aborted; attempt++) {
      const subscription = this.events.subscribe(watch.latest.id);
      try {
        // Subscribed first, then looked: a settlement from now on cannot be missed. The first
        // look only re-reads the row (the caller has just refreshed it).
        await this.lookOnce(watch, schedule, subscription, attempt);
        if (subscription.settled) await this.attempt(watch, () => schedule.reread(watch.latest));
        if (!isOpen(watch.latest)) break;
        const woke = await subscription.wait(this.untilNextLook(watch, schedule, attempt, now), stop.signal);
        if (woke) await this.attempt(watch, () => schedule.reread(watch.latest));
      } finally {
        subscription.close();
      }
    }
    return watch.latest;
  }

  /**
   * One look, raced against the settlement announcement: a look busy copying a result or reading
   * a slow KIE must not hold the answer once another path has settled the job (it is told to stop
   * and left to finish on its own).
   */
  private async lookOnce(
    watch: Watch,
    schedule: WatchSchedule,
    subscription: JobSubscription,
    attempt: number,
  ): Promise<void> {
    const look = linked(watch.stop.signal, subscription.signal);
    try {
      const looking =
        attempt === 0 ? schedule.reread(watch.latest) : schedule.look(watch.latest, look.signal);
      watch.looking = looking;
      await this.attempt(watch, () => untilAborted(looking, look.signal));
    } finally {
      watch.looking = undefined;
      look.dispose();
    }
  }

  /**
   * Runs one look or re-read and keeps its answer. A failure (a database blip) is logged and the
   * schedule goes on: it must not end the shared watch, and with it every waiter's wait.
   */
  private async attempt(watch: Watch, read: () => Promise<Generation | undefined>): Promise<void> {
    try {
      watch.latest = (await read()) ?? watch.latest;
    } catch (error) {
      if (watch.stop.signal.aborted) return;
      this.logger.warn(
        { jobId: watch.latest.id, err: error },
        "a look at a waited-for job failed; looking again",
      );
    }
  }

  private untilNextLook(watch: Watch, schedule: WatchSchedule, attempt: number, now: () => number): number {
    const next = schedule.nextLookIn(watch.latest, attempt);
    if (schedule.finalLookMs === undefined || watch.deadlines.length === 0) return next;
    const untilFinalLook = Math.min(...watch.deadlines) - schedule.finalLookMs - now();
    // Once the final look is done (or there is no time for one), the usual schedule applies.
    return untilFinalLook > 0 ? Math.min(next, untilFinalLook) : next;
  }
}

/** A signal that aborts with either of two, unhooked again by dispose() (a watch may loop for long). */
function linked(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (a.aborted || b.aborted) abort();
  a.addEventListener("abort", abort, { once: true });
  b.addEventListener("abort", abort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      a.removeEventListener("abort", abort);
      b.removeEventListener("abort", abort);
    },
  };
}

/** `done`'s value, or undefined once `ms` pass; rejects when `signal` aborts first. */
function raceDeadline<T>(done: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(undefined);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    done.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
