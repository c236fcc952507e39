/**
 * SQL for generation jobs (DESIGN.md §4, §5). Every state change is one conditional statement, so
 * any number of instances, polls, callbacks and reconciler sweeps can race on one job and only
 * one of them wins each step.
 */
import { and, desc, eq, inArray, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { type StoredImageColumns, storedImageValues } from "./images";
import { queryRows } from "./rows";
import {
  type Generation,
  type GenerationStatus,
  generations,
  type NewGeneration,
  OPEN_GENERATION_STATUSES,
} from "./schema";

/** Postgres NOTIFY channel announcing a settled job (its id is the payload). */
export const JOB_SETTLED_CHANNEL = "nano_banana_job_settled";

export async function insertGeneration(db: DbExecutor, values: NewGeneration): Promise<Generation> {
  const [row] = await db.insert(generations).values(values).returning();
  // INSERT … RETURNING without ON CONFLICT returns its row or throws: the check only narrows the type.
  // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable (see above)
  if (!row) throw new Error("insert into generations returned no row");
  return row;
}

export async function findGeneration(db: DbExecutor, id: string): Promise<Generation | undefined> {
  const [row] = await db.select().from(generations).where(eq(generations.id, id));
  return row;
}

/** A user's job by our id or by KIE's task id; someone else's job is not found. */
export async function findUserGeneration(
  db: DbExecutor,
  userId: string,
  taskId: string,
): Promise<Generation | undefined> {
  // No job has one, and Postgres refuses a NUL in a text parameter (the query would fail: a 500).
  if (taskId.includes("\u0000")) return undefined;
  const byId = isUuid(taskId) ? eq(generations.id, taskId) : undefined;
  const [row] = await db
    .select()
    .from(generations)
    .where(
      and(
        eq(generations.userId, userId),
        byId ? or(byId, eq(generations.kieTaskId, taskId)) : eq(generations.kieTaskId, taskId),
        // A job its owner deleted is gone for them (the row stays for the ledger).
        isNull(generations.deletedAt),
      ),
    )
    .limit(1);
  return row;
}

/** The user's edits of job `parentId` (its children in the edit tree), oldest first; deleted ones left out. */
export async function findChildren(db: DbExecutor, userId: string, parentId: string): Promise<Generation[]> {
  return db
    .select()
    .from(generations)
    .where(
      and(eq(generations.userId, userId), eq(generations.parentId, parentId), isNull(generations.deletedAt)),
    )
    .orderBy(generations.createdAt, generations.id)
    .limit(100);
}

/**
 * The user's jobs of one batch (`n` variations, one request), in the order they were asked for;
 * deleted ones left out.
 */
export async function findBatch(db: DbExecutor, userId: string, batchId: string): Promise<Generation[]> {
  const rows = await db
    .select()
    .from(generations)
    .where(
      and(eq(generations.userId, userId), eq(generations.batchId, batchId), isNull(generations.deletedAt)),
    )
    .limit(100);
  const indexOf = (row: Generation) => Number((row.params as { batchIndex?: number }).batchIndex ?? 0);
  return rows.sort((a, b) => indexOf(a) - indexOf(b));
}

/** Records KIE's task id, once: a job is bound to at most one KIE task. */
export async function attachKieTask(
  db: DbExecutor,
  id: string,
  kieTaskId: string,
  warnings: string[] = [],
): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({
      kieTaskId,
      submittedAt: sql`now()`,
      ...(warnings.length > 0 && { warnings: mergedWarnings(warnings) }),
      updatedAt: sql`now()`,
    })
    .where(and(eq(generations.id, id), isNull(generations.kieTaskId)))
    .returning({ id: generations.id });
  return rows.length === 1;
}

/**
 * createTask's warnings on a job whose task another path (its callback) attached first, once:
 * not when the job already has them all (a retry after a write that did land).
 */
export async function addTaskWarnings(
  db: DbExecutor,
  id: string,
  kieTaskId: string,
  warnings: string[],
): Promise<void> {
  // No early return for []: the guard below already makes it a no-op (`x @> '[]'` always holds).
  await db
    .update(generations)
    .set({ warnings: mergedWarnings(warnings) })
    .where(
      and(
        eq(generations.id, id),
        eq(generations.kieTaskId, kieTaskId),
        sql`NOT (coalesce(${generations.warnings}, '[]'::jsonb) @> ${JSON.stringify(warnings)}::jsonb)`,
      ),
    );
}

/** The job's warnings with `more` after them (createTask's come first, the result's later). */
function mergedWarnings(more: string[]) {
  return sql`coalesce(${generations.warnings}, '[]'::jsonb) || ${JSON.stringify(more)}::jsonb`;
}

/** pending → processing when KIE reports work started; never touches a settled job. */
export async function markProcessing(db: DbExecutor, id: string): Promise<void> {
  await db
    .update(generations)
    .set({ status: "processing", updatedAt: sql`now()` })
    .where(and(eq(generations.id, id), eq(generations.status, "pending")));
}

/**
 * The single-flight refresh lease: true for exactly one caller per `intervalMs` per job, the one
 * allowed to read KIE; everyone else answers from the row.
 */
export async function claimRefreshLease(db: DbExecutor, id: string, intervalMs: number): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({ refreshedAt: sql`now()` })
    .where(
      and(
        eq(generations.id, id),
        inArray(generations.status, OPEN_GENERATION_STATUSES),
        or(
          isNull(generations.refreshedAt),
          lt(generations.refreshedAt, sql`now() - make_interval(secs => ${intervalMs / 1000})`),
        ),
      ),
    )
    .returning({ id: generations.id });
  return rows.length === 1;
}

export type SettledStatus = Exclude<GenerationStatus, (typeof OPEN_GENERATION_STATUSES)[number]>;

export interface SettleInput {
  status: SettledStatus;
  resultUrls?: string[];
  errorCode?: string;
  errorMessage?: string;
  /** The result as copied into our store (DESIGN.md §9); absent = not (yet) stored. */
  image?: StoredImageColumns;
  warnings?: string[];
}

/**
 * The conditional UPDATE that ends a job (DESIGN.md §4): only while it is open, so of any number
 * of racing settlers exactly one gets the row back. Money is not decided here: settle() in
 * lib/generation/settle.ts runs this, then the capture or release, in one transaction.
 */
export async function markSettled(
  db: DbExecutor,
  id: string,
  input: SettleInput,
): Promise<Generation | undefined> {
  const [row] = await db
    .update(generations)
    .set({
      status: input.status,
      resultUrls: input.resultUrls ?? null,
      errorCode: input.errorCode ?? null,
      errorMessage: input.errorMessage ?? null,
      ...(input.image && storedImageValues(input.image)),
      ...(input.warnings && input.warnings.length > 0 && { warnings: mergedWarnings(input.warnings) }),
      settledAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(generations.id, id), inArray(generations.status, OPEN_GENERATION_STATUSES)))
    .returning();
  return row;
}

/** Tells every instance listening on JOB_SETTLED_CHANNEL (sent when the transaction commits). */
export async function notifySettled(db: DbExecutor, id: string): Promise<void> {
  await db.execute(sql`SELECT pg_notify(${JOB_SETTLED_CHANNEL}, ${id})`);
}

/**
 * What KIE says the job's task cost (KIE credits): written whenever an answer says so, in any
 * state and after settlement too (a late answer is still KIE's bill). Returns whether it changed.
 */
export async function recordKieCredits(db: DbExecutor, id: string, credits: number): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({ kieCreditsConsumed: credits })
    .where(
      and(
        eq(generations.id, id),
        or(isNull(generations.kieCreditsConsumed), ne(generations.kieCreditsConsumed, credits)),
      ),
    )
    .returning({ id: generations.id });
  return rows.length === 1;
}

/**
 * A success KIE reports after we gave up (status timeout, credits released): the image is kept
 * on the job as a free late delivery, never charged (DESIGN.md §5 decision, docs/JOBS.md).
 */
export async function attachLateResult(db: DbExecutor, id: string, resultUrls: string[]): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({ resultUrls, updatedAt: sql`now()` })
    .where(and(eq(generations.id, id), eq(generations.status, "timeout"), isNull(generations.resultUrls)))
    .returning({ id: generations.id });
  return rows.length === 1;
}

/**
 * Claims up to `limit` open jobs older than `minAgeMs` whose last refresh is older than
 * `intervalMs`, for one reconciler sweep (optionally one user's). Jobs still in line (`queued`)
 * are the drain's until they are `timeoutMs` old: only then does a sweep take them (to time out). The row locks last only for
 * this statement (SKIP LOCKED: concurrent sweeps never take the same job); the claim itself is
 * the refresh lease it sets, so other sweeps and polls leave these jobs alone for `intervalMs`.
 */
export async function claimStaleGenerations(
  db: DbExecutor,
  options: { limit: number; minAgeMs: number; intervalMs: number; timeoutMs?: number; userId?: string },
): Promise<Generation[]> {
  const ofUser = options.userId ? sql`AND user_id = ${options.userId}` : sql``;
  const timedOutInLine =
    options.timeoutMs === undefined
      ? sql`false`
      : sql`status = 'queued' AND created_at < now() - make_interval(secs => ${options.timeoutMs / 1000})`;
  return db.transaction(async (tx) => {
    const stale = await queryRows<{ id: string }>(
      tx,
      sql`
        SELECT id FROM ${generations}
        WHERE ((status IN ('pending', 'processing')
                AND coalesce(submitted_at, created_at) < now() - make_interval(secs => ${options.minAgeMs / 1000}))
            OR (${timedOutInLine}))
          ${ofUser}
          AND (refreshed_at IS NULL OR refreshed_at < now() - make_interval(secs => ${options.intervalMs / 1000}))
        ORDER BY created_at
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED`,
    );
    // Saves a round trip only: the UPDATE below with an empty inArray() is `WHERE false`, also [].
    // Stryker disable next-line ConditionalExpression: equivalent (see above)
    if (stale.length === 0) return [];
    return tx
      .update(generations)
      .set({ refreshedAt: sql`now()` })
      .where(
        inArray(
          generations.id,
          stale.map((row) => row.id),
        ),
      )
      .returning();
  });
}

/** Where the previous page ended: its last job (compared at the database's full time precision). */
export interface GenerationPageCursor {
  id: string;
}

/** A user's jobs, newest first, `limit` at a time after `cursor` (keyset pagination). */
export async function listUserGenerations(
  db: DbExecutor,
  userId: string,
  options: { limit: number; cursor?: GenerationPageCursor },
): Promise<Generation[]> {
  const after = options.cursor
    ? sql`(${generations.createdAt}, ${generations.id}) < (SELECT last.created_at, last.id FROM ${generations} AS last WHERE last.id = ${options.cursor.id}::uuid)`
    : undefined;
  return db
    .select()
    .from(generations)
    .where(and(eq(generations.userId, userId), isNull(generations.deletedAt), after))
    .orderBy(desc(generations.createdAt), desc(generations.id))
    .limit(options.limit);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
