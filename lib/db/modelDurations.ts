/**
 * The poll schedule's learned durations, kept in the database (schema.ts `model_durations`) so
 * that every instance shares them: the port is lib/generation/learnedDurations.ts's
 * DurationStore (lib/compose.ts checks this adapter against it). One row per model, its last
 * SAMPLES_KEPT durations (ms, newest last); an append is one upsert that keeps the newest.
 */
import { sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { modelDurations } from "./schema";

/** As many as the schedule keeps in memory (pollSchedule.ts); the table's check allows 20. */
export const SAMPLES_KEPT = 20;

export interface ModelDurationStore {
  /** Every model's kept durations. */
  load(): Promise<Map<string, number[]>>;
  /** Adds `samples` (oldest first) to the model's, keeps the newest SAMPLES_KEPT, and returns them. */
  append(model: string, samples: number[]): Promise<number[]>;
}

export function createModelDurationStore(db: DbExecutor): ModelDurationStore {
  return {
    async load() {
      const rows = await db
        .select({ model: modelDurations.model, samplesMs: modelDurations.samplesMs })
        .from(modelDurations);
      return new Map(rows.map((row) => [row.model, row.samplesMs]));
    },
    async append(model, samples) {
      const fresh = samples.map((ms) => Math.max(1, Math.round(ms))).slice(-SAMPLES_KEPT);
      if (fresh.length === 0) return [];
      const values = sql`ARRAY[${sql.join(
        fresh.map((ms) => sql`${ms}::integer`),
        sql`, `,
      )}]`;
      // Concurrent appends of several instances serialise on the row: none is lost.
      const joined = sql`(${modelDurations.samplesMs} || excluded.samples_ms)`;
      const [row] = await db
        .insert(modelDurations)
        .values({ model, samplesMs: values as unknown as number[] })
        .onConflictDoUpdate({
          target: modelDurations.model,
          set: {
            samplesMs: sql`${joined}[greatest(1, cardinality(${joined}) - ${SAMPLES_KEPT - 1}):]`,
            updatedAt: sql`now()`,
          },
        })
        .returning({ samplesMs: modelDurations.samplesMs });
      return row?.samplesMs ?? fresh;
    },
  };
}
