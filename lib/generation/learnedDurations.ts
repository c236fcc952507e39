/**
 * The poll schedule's learned durations (pollSchedule.ts), shared by every instance through the
 * database (issue 28 item 2): an instance loads them as it starts, so a new or restarted one polls
 * as well as an old one, and refreshes them every REFRESH_EVERY_MS (from the reconciler's sweep).
 * What it learns itself is written through, in bounded writes: a model's first new duration at
 * once, later ones gathered for at most WRITE_EVERY_MS (one statement per model and instance per
 * interval, whatever the load); a shutdown writes what is still gathered. The database being
 * down costs nothing but sharing: the schedule keeps working on what this instance knows.
 */
import type { Logger } from "@/lib/observability/logger";
import { JobDurations } from "./pollSchedule";

/** Where the durations are kept (lib/db/modelDurations.ts). */
export interface DurationStore {
  load(): Promise<Map<string, number[]>>;
  /** Adds samples (oldest first) to the model's; returns the model's kept samples afterwards. */
  append(model: string, samples: number[]): Promise<number[]>;
}

/** At most one write per model and instance in this span. */
export const WRITE_EVERY_MS = 5_000;
/** How often an instance takes what the others learned. */
export const REFRESH_EVERY_MS = 30_000;

export class SharedDurations {
  readonly #local = new JobDurations();
  readonly #pending = new Map<string, number[]>();
  readonly #lastWriteAt = new Map<string, number>();
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  readonly #writes = new Set<Promise<void>>();

  constructor(private readonly deps: { store?: DurationStore; logger: Logger; now: () => number }) {}

  typical(model: string): number | undefined {
    return this.#local.typical(model);
  }

  /** A success's duration by the provider's clock: learned here at once, shared within WRITE_EVERY_MS. */
  record(model: string, durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs <= 0) return;
    this.#local.record(model, durationMs);
    if (!this.deps.store) return;
    const pending = this.#pending.get(model) ?? [];
    pending.push(durationMs);
    this.#pending.set(model, pending);
    const last = this.#lastWriteAt.get(model) ?? Number.NEGATIVE_INFINITY;
    if (this.deps.now() - last >= WRITE_EVERY_MS) this.#track(this.#write(model));
  }

  /** Start-up: what every instance learned so far (bounded by the caller; a failure is logged). */
  load(): Promise<void> {
    return this.refresh();
  }

  /** From the reconciler's sweep: writes what is gathered and takes the others' news when due. */
  async refreshIfDue(): Promise<void> {
    if (this.deps.now() - this.#refreshedAt < REFRESH_EVERY_MS) return;
    await this.refresh();
  }

  /** Writes every model's gathered durations, then takes every model's kept ones. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Shutdown: what is still gathered is written (each write bounded by the database's own timeouts). */
  async close(): Promise<void> {
    for (const model of [...this.#pending.keys()]) this.#track(this.#write(model));
    await Promise.all(this.#writes);
  }

  async #refresh(): Promise<void> {
    const { store, logger, now } = this.deps;
    if (!store) return;
    this.#refreshedAt = now();
    await Promise.all([...this.#pending.keys()].map((model) => this.#write(model)));
    try {
      for (const [model, samples] of await store.load()) {
        // Durations learned here since the load began stay: they are written next time.
        this.#local.replace(model, [...samples, ...(this.#pending.get(model) ?? [])]);
      }
    } catch (error) {
      logger.warn(
        { err: error },
        "could not load the learned poll durations; polling on this instance's own",
      );
    }
  }

  async #write(model: string): Promise<void> {
    const samples = this.#pending.get(model);
    if (!samples || samples.length === 0 || !this.deps.store) return;
    this.#pending.delete(model);
    this.#lastWriteAt.set(model, this.deps.now());
    try {
      const kept = await this.deps.store.append(model, samples);
      this.#local.replace(model, [...kept, ...(this.#pending.get(model) ?? [])]);
    } catch (error) {
      // Not lost: put back, before anything learned meanwhile, for the next write.
      this.#pending.set(model, [...samples, ...(this.#pending.get(model) ?? [])].slice(-20));
      this.deps.logger.warn({ err: error, model }, "could not share a learned poll duration; will retry");
    }
  }

  #track(write: Promise<void>): void {
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }
}
