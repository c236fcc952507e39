/**
 * SQL for the line of jobs waiting for a KIE create token (docs/JOBS.md "The line"). Order:
 * round robin between users, first come first served within a round. A job joining the line gets
 * a round one past its user's last queued job, and never before the round being served (the
 * head's): so a user's batch of 40 takes rounds 1–40 while another user's 4 take rounds 1–4, and
 * every user's next job is served before anyone's after-next. Every step is one conditional
 * statement: any number of instances drain the same line.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { queryRows } from "./rows";
import { type Generation, generations } from "./schema";

/**
 * pending → queued, with what the drain needs to send createTask (`submit`, kept in params), for
 * a job without a KIE task (`atHead`: in the round being served). False when the job is no longer
 * pending (settled meanwhile).
 */
export async function enqueueGeneration(
  db: DbExecutor,
  id: string,
  submit: Record<string, unknown>,
  options: { atHead?: boolean } = {},
): Promise<boolean> {
  const servedRound = sql`(SELECT coalesce(min(line.queue_round), 1) FROM ${generations} AS line WHERE line.status = 'queued')`;
  const rows = await db
    .update(generations)
    .set({
      status: "queued",
      // At the head: the round being served, where its arrival time puts it before later jobs.
      queueRound: options.atHead
        ? servedRound
        : sql`GREATEST(
        (SELECT coalesce(max(mine.queue_round), 0) + 1 FROM ${generations} AS mine
          WHERE mine.status = 'queued' AND mine.user_id = ${generations.userId}),
        ${servedRound})`,
      params: sql`${generations.params} || ${JSON.stringify({ submit })}::jsonb`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(generations.id, id), eq(generations.status, "pending"), isNull(generations.kieTaskId)))
    .returning({ id: generations.id });
  return rows.length === 1;
}

/**
 * Takes the job at the head of the line: queued → pending in one transaction whose row lock
 * (SKIP LOCKED) lasts only for it, so two instances never take the same job. Jobs at least
 * `maxAgeMs` old are left to the reconciler (they time out). `callbackTokenHash` replaces the
 * job's (the drain makes the callBackUrl's secret; only its hash is stored).
 */
export async function claimHeadOfLine(
  db: DbExecutor,
  options: { maxAgeMs: number; callbackTokenHash: string | null },
): Promise<Generation | undefined> {
  return db.transaction(async (tx) => {
    const [head] = await queryRows<{ id: string }>(
      tx,
      sql`
        SELECT id FROM ${generations}
        WHERE status = 'queued'
          AND created_at > now() - make_interval(secs => ${options.maxAgeMs / 1000})
        ORDER BY queue_round, created_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED`,
    );
    if (!head) return undefined;
    const [row] = await tx
      .update(generations)
      .set({ status: "pending", callbackTokenHash: options.callbackTokenHash, updatedAt: sql`now()` })
      .where(and(eq(generations.id, head.id), eq(generations.status, "queued")))
      .returning();
    return row;
  });
}

/**
 * KIE refused the create with 429 (nothing was created): pending → queued again, in the round it
 * had — at most the round being served, so it is at the head of the line.
 */
export async function requeueGeneration(db: DbExecutor, id: string): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({ status: "queued", updatedAt: sql`now()` })
    .where(and(eq(generations.id, id), eq(generations.status, "pending"), isNull(generations.kieTaskId)))
    .returning({ id: generations.id });
  return rows.length === 1;
}

/** A queued job's place in the line (1 = next), or undefined when it is not queued. */
export async function linePosition(db: DbExecutor, id: string): Promise<number | undefined> {
  const [row] = await queryRows<{ position: string | number }>(
    db,
    sql`
      SELECT (SELECT count(*) FROM ${generations} AS ahead
              WHERE ahead.status = 'queued'
                AND (ahead.queue_round, ahead.created_at, ahead.id) < (me.queue_round, me.created_at, me.id)) + 1
             AS position
      FROM ${generations} AS me
      WHERE me.id = ${id}::uuid AND me.status = 'queued'`,
  );
  return row === undefined ? undefined : Number(row.position);
}

/** How many jobs are in line, and since when the oldest has waited (null when none). */
export async function lineStats(db: DbExecutor): Promise<{ length: number; oldestCreatedAt: Date | null }> {
  const [row] = await queryRows<{ length: string | number; oldest: string | Date | null }>(
    db,
    sql`SELECT count(*) AS length, min(created_at) AS oldest FROM ${generations} WHERE status = 'queued'`,
  );
  const oldest = row?.oldest ?? null;
  return { length: Number(row?.length ?? 0), oldestCreatedAt: oldest === null ? null : new Date(oldest) };
}
