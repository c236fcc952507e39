/**
 * When an open job's task is read at KIE (the refresh lease: at most one read per interval, across
 * every client and instance) and when clients should look again (`pollAfterMs`): the same number.
 *
 * Without a callback the only way to learn that a task ended is to read it, and each read costs.
 * Jobs of one model take about the same time, so the schedule reads a young job once early (a
 * refused prompt fails fast), then not again until shortly before the time recent jobs of its
 * model took, then often until it ends. Until an instance has seen a few jobs of a model end it
 * falls back to a schedule by age alone; old jobs are read less and less either way.
 * docs/JOBS.md "Polling"; measured in docs/BENCHMARKS.md.
 */

/** The shortest interval: over 1 s, so that the read jitter never puts two reads in one second. */
export const MIN_POLL_INTERVAL_MS = 1_200;
/** A young job is read once at about this age, to catch a task that fails at once. */
export const FIRST_LOOK_MS = 2_000;
/** How long before the typical end the frequent reads begin. */
export const LEAD_MS = 1_500;
/** How long past the typical end the frequent reads go on before backing off by age. */
export const FREQUENT_SPAN_MS = 10_000;
/** Successes remembered per model, and how many make a typical duration. */
const SAMPLES_KEPT = 20;
const SAMPLES_NEEDED = 3;

/** How long the last few successful jobs of each model took, by the provider's own clock (apply.ts). */
export class JobDurations {
  readonly #byModel = new Map<string, number[]>();

  record(model: string, durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs <= 0) return;
    const samples = this.#byModel.get(model) ?? [];
    samples.push(durationMs);
    if (samples.length > SAMPLES_KEPT) samples.shift();
    this.#byModel.set(model, samples);
  }

  /** The remembered durations of a model, oldest first. */
  samples(model: string): readonly number[] {
    return this.#byModel.get(model) ?? [];
  }

  /** Replaces a model's durations with these (what every instance learned: learnedDurations.ts). */
  replace(model: string, samples: readonly number[]): void {
    const kept = samples.filter((ms) => Number.isFinite(ms) && ms > 0).slice(-SAMPLES_KEPT);
    if (kept.length > 0) this.#byModel.set(model, kept);
  }

  /** The median of the remembered durations; undefined until there are enough. */
  typical(model: string): number | undefined {
    const samples = this.#byModel.get(model);
    if (!samples || samples.length < SAMPLES_NEEDED) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

/** By age alone: young jobs change fast, old ones slowly. */
function byAge(ageMs: number): number {
  if (ageMs < 10_000) return 1_500;
  if (ageMs < 30_000) return 2_500;
  if (ageMs < 120_000) return 5_000;
  return 10_000;
}

/**
 * The interval before the next read of a job of this age, given how long its model's jobs
 * typically take (undefined: not known yet).
 */
export function nextPollInMs(ageMs: number, typicalMs: number | undefined): number {
  if (typicalMs === undefined || ageMs >= typicalMs + FREQUENT_SPAN_MS) {
    return Math.max(MIN_POLL_INTERVAL_MS, byAge(ageMs));
  }
  const frequentFrom = typicalMs - LEAD_MS;
  // Just created: one early look (an age near FIRST_LOOK_MS is that look, and waits for the rest).
  if (ageMs < FIRST_LOOK_MS / 2 && frequentFrom > FIRST_LOOK_MS + MIN_POLL_INTERVAL_MS) {
    return FIRST_LOOK_MS - ageMs;
  }
  if (ageMs < frequentFrom) return Math.max(MIN_POLL_INTERVAL_MS, frequentFrom - ageMs);
  return MIN_POLL_INTERVAL_MS;
}
