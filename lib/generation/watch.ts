/**
 * Waiting for a job to settle (sync generate, `GET /api/generate/:taskId` with `Prefer: wait`).
 *
 * All waiters on one job in this process share one watch: one subscription to the settlement
 * announcement and one schedule of looks at the job (a KIE read when the single-flight lease allows
 * it, else a read of the row). So 200 waiting requests hold no database connection and cause no
 * more reads than one. A waiter leaves at its own deadline or abort; the last one to leave stops
 * the watch and aborts its KIE read.
 */
import type { Generation } from "@/lib/db/schema";
import type { Logger } from "@/lib/observability/logger";
import type { JobEvents } from "./events";

export function isOpen(job: Pick<Generation, "status">): boolean {
  return job.status === "pending" || job.status === "processing";
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
}

interface Watch {
  latest: Generation;
  waiters: number;
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
      watch = this.start(job, schedule);
      this.watches.set(key, watch);
    }
    const current = watch;
    current.waiters++;
    this.waiting++;
    try {
      const left = options.deadline - options.now();
      const outcome = await raceDeadline(current.done, left, options.signal);
      return outcome ?? (await schedule.reread(current.latest));
    } finally {
      this.waiting--;
      current.waiters--;
      if (current.waiters === 0) {
        current.stop.abort();
        if (this.watches.get(key) === current) this.watches.delete(key);
      }
    }
  }

  private start(job: Generation, schedule: WatchSchedule): Watch {
    const stop = new AbortController();
    const watch: Watch = { latest: job, waiters: 0, stop, done: Promise.resolve(job) };
    watch.done = this.run(watch, schedule).catch((error) => {
      if (!stop.signal.aborted) this.logger.warn({ jobId: job.id, err: error }, "job watch failed");
      return watch.latest;
    });
    return watch;
  }

  private async run(watch: Watch, schedule: WatchSchedule): Promise<Generation> {
    const { stop } = watch;
    for (let attempt = 0; isOpen(watch.latest) && !stop.signal.aborted; attempt++) {
      const subscription = this.events.subscribe(watch.latest.id);
      try {
        // Subscribed first, then looked: a settlement from now on cannot be missed. The first
        // look only re-reads the row (the caller has just refreshed it).
        const look = linked(stop.signal, subscription.signal);
        try {
          watch.latest =
            attempt === 0
              ? await schedule.reread(watch.latest)
              : await schedule.look(watch.latest, look.signal);
        } finally {
          look.dispose();
        }
        if (subscription.settled) watch.latest = await schedule.reread(watch.latest);
        if (!isOpen(watch.latest)) break;
        const woke = await subscription.wait(schedule.nextLookIn(watch.latest, attempt), stop.signal);
        if (woke) watch.latest = await schedule.reread(watch.latest);
      } finally {
        subscription.close();
      }
    }
    return watch.latest;
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
