/**
 * Idempotency keys in the database (DESIGN.md §3), so every instance agrees on who owns a key.
 * The HTTP meaning (header, 409/422, replayed responses) lives in lib/http/idempotency.ts.
 *
 * A row is either `in_progress` (a request holds the key) or `completed` (its response is stored).
 * `expires_at` means two things, one per state:
 *   - in_progress: the end of the holder's lease. A request that crashed mid-way would otherwise
 *     leave its key answering 409 for 24 h; after the lease anyone may take the key over.
 *   - completed: the end of the replay window (created_at + ttl, 24 h by default).
 * Either way an expired row counts as absent: a claim replaces it in the same statement.
 *
 * Every claim gets a `claimToken` (its `created_at`, at microsecond precision). Completing or
 * abandoning a key only succeeds with the token of the current claim, so a slow holder whose lease
 * was taken over cannot overwrite or delete the new holder's row.
 *
 * A claim that holds a job (`generation_id`, recorded when its credits were reserved) is never
 * deleted: a retry that found the key free would create and charge a second job.
 */
import { type SQL, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { DatabaseError } from "./errors";
import { queryRows } from "./rows";
import { generations, idempotencyKeys } from "./schema";

/** How long a completed response is replayed (DESIGN.md §3). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a request may hold a key before another may take it over, when the caller does not
 * derive it from its own limits (lib/http/idempotency.ts idempotencyLeaseMs does, for generate).
 */
export const IDEMPOTENCY_LEASE_MS = 5 * 60 * 1000;
/** The longest key the table accepts (its CHECK constraint). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

export interface ClaimIdempotencyKeyInput {
  userId: string;
  key: string;
  /** Identifies the request's content; the same key with another fingerprint is a misuse. */
  fingerprint: string;
  /** Lease of an in-progress claim; default IDEMPOTENCY_LEASE_MS. */
  leaseMs?: number;
  /** Clock override for tests; default: the database's clock. */
  now?: Date;
}

export type IdempotencyClaim =
  /**
   * This request now holds the key; finish with complete… or abandon… and this token.
   * `generationId`: the job an earlier holder of this same request created before it stopped
   * (crash, time limit): answer from that job, never create a second one.
   */
  | { outcome: "claimed"; claimToken: string; generationId: string | null }
  /** A request with the same fingerprint completed: answer with its stored response. */
  | { outcome: "replay"; status: number; body: unknown; generationId: string | null }
  /** A request with the same fingerprint holds the key and its lease has not ended. */
  | { outcome: "in_progress" }
  /** The key was used (and is still remembered) for a request with another fingerprint. */
  | { outcome: "fingerprint_mismatch" };

export interface CompleteIdempotencyKeyInput {
  userId: string;
  key: string;
  claimToken: string;
  /** The HTTP status and JSON body to replay. */
  status: number;
  body: unknown;
  /** The job the request created, if any. */
  generationId?: string;
  /** How long the response is replayed, counted from the claim; default IDEMPOTENCY_TTL_MS. */
  ttlMs?: number;
}

export interface AbandonIdempotencyKeyInput {
  userId: string;
  key: string;
  claimToken: string;
}

const timestampOf = (now: Date | undefined): SQL =>
  now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;

const millis = (ms: number): SQL => sql`(${ms}::double precision * interval '1 millisecond')`;

/**
 * Claims `key` for `userId` in one atomic statement: inserts the row, or takes over an expired one
 * (a finished replay window or an ended lease). Concurrent claims of one key: exactly one wins.
 * When the key is held, says why (replay, in progress, or another request's key).
 */
export async function tryClaimIdempotencyKey(
  db: DbExecutor,
  input: ClaimIdempotencyKeyInput,
): Promise<IdempotencyClaim> {
  assertKey(input.key);
  const leaseMs = input.leaseMs ?? IDEMPOTENCY_LEASE_MS;
  assertPositiveMs("leaseMs", leaseMs);
  const now = timestampOf(input.now);
  // The row may vanish between the failed claim and the read (abandoned or purged meanwhile):
  // then the key is free again and the next claim attempt gets it or sees its new holder.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [claimed] = await queryRows<{ claim_token: string; generation_id: string | null }>(
      db,
      sql`
        INSERT INTO ${idempotencyKeys} AS held
          (user_id, key, request_fingerprint, state, created_at, expires_at)
        VALUES (${input.userId}, ${input.key}, ${input.fingerprint}, 'in_progress', ${now}, ${now} + ${millis(leaseMs)})
        ON CONFLICT (user_id, key) DO UPDATE SET
          request_fingerprint = excluded.request_fingerprint,
          state = 'in_progress',
          response_status = NULL,
          response_body = NULL,
          -- A same-request claim whose holder died keeps its job: the new holder answers from it.
          generation_id = CASE
            WHEN held.state = 'in_progress' AND held.request_fingerprint = excluded.request_fingerprint
            THEN held.generation_id
          END,
          created_at = excluded.created_at,
          expires_at = excluded.expires_at
        WHERE held.expires_at <= excluded.created_at
        RETURNING created_at::text AS claim_token, generation_id`,
    );
    if (claimed)
      return { outcome: "claimed", claimToken: claimed.claim_token, generationId: claimed.generation_id };

    const [held] = await queryRows<{
      request_fingerprint: string;
      state: "in_progress" | "completed";
      response_status: number | null;
      response_body: unknown;
      generation_id: string | null;
    }>(
      db,
      sql`
        SELECT request_fingerprint, state, response_status, response_body, generation_id
        FROM ${idempotencyKeys}
        WHERE user_id = ${input.userId} AND key = ${input.key}`,
    );
    if (!held) continue;
    if (held.request_fingerprint !== input.fingerprint) return { outcome: "fingerprint_mismatch" };
    if (held.state === "in_progress" || held.response_status === null) return { outcome: "in_progress" };
    return {
      outcome: "replay",
      status: held.response_status,
      body: held.response_body,
      generationId: held.generation_id,
    };
  }
  throw new DatabaseError(
    "Could not claim the idempotency key: it kept being released and re-taken. Try again.",
  );
}

/**
 * The key's row is still this request's claim: in progress, and claimed at `claimToken` (a claim
 * taken over after its lease ended has a new one). Every write by a claim holder is guarded by it.
 */
function heldClaim(claim: { userId: string; key: string; claimToken: string }) {
  return sql`user_id = ${claim.userId} AND key = ${claim.key}
    AND state = 'in_progress' AND created_at = ${claim.claimToken}::timestamptz`;
}

/**
 * Stores the response of the request holding the claim, to be replayed until created_at + ttl.
 * Returns false when the claim is no longer this request's (its lease ended and another request
 * took the key over, or the row was purged): nothing is written then.
 */
export async function completeIdempotencyKey(
  db: DbExecutor,
  input: CompleteIdempotencyKeyInput,
): Promise<boolean> {
  if (!Number.isInteger(input.status) || input.status < 100 || input.status > 599) {
    throw new RangeError(`status must be an HTTP status code, got ${input.status}`);
  }
  const ttlMs = input.ttlMs ?? IDEMPOTENCY_TTL_MS;
  assertPositiveMs("ttlMs", ttlMs);
  const body = JSON.stringify(input.body);
  if (body === undefined) throw new TypeError("body must be JSON-serializable");
  const rows = await queryRows(
    db,
    sql`
      UPDATE ${idempotencyKeys} SET
        state = 'completed',
        response_status = ${input.status},
        response_body = ${body}::jsonb,
        generation_id = COALESCE(${input.generationId ?? null}::uuid, generation_id),
        expires_at = created_at + ${millis(ttlMs)}
      WHERE ${heldClaim(input)}
      RETURNING 1 AS completed`,
  );
  return rows.length === 1;
}

/**
 * Records the job a claim's request created, in the transaction that reserves its credits, so a
 * retry that takes the key over after this request died answers from the job instead of creating
 * (and charging) a second one. Returns false when the claim is no longer this request's.
 */
export async function attachIdempotencyJob(
  db: DbExecutor,
  input: { userId: string; key: string; claimToken: string; generationId: string },
): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`
      UPDATE ${idempotencyKeys} SET generation_id = ${input.generationId}::uuid
      WHERE ${heldClaim(input)}
      RETURNING 1 AS attached`,
  );
  return rows.length === 1;
}

/**
 * Releases the claim without a stored response, so the same key can be used again at once: for
 * outcomes after which nothing happened (rate limited, upstream down) and a retry is welcome.
 * A claim that holds a job is never deleted — a retry that found no row would create and charge a
 * second job. Its lease ends now instead: the retry takes it over at once and answers from that
 * job. Returns false when the claim was no longer this request's.
 */
export async function abandonIdempotencyKey(
  db: DbExecutor,
  input: AbandonIdempotencyKeyInput,
): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`
      WITH freed AS (
        DELETE FROM ${idempotencyKeys}
        WHERE ${heldClaim(input)} AND generation_id IS NULL
        RETURNING 1
      ), left_for_take_over AS (
        UPDATE ${idempotencyKeys} SET expires_at = LEAST(expires_at, now())
        WHERE ${heldClaim(input)} AND generation_id IS NOT NULL
        RETURNING 1
      )
      SELECT 1 AS abandoned FROM freed UNION ALL SELECT 1 FROM left_for_take_over`,
  );
  return rows.length === 1;
}

/**
 * Unties the claim from its job once that job has ended without reaching the provider (failed,
 * no task, its credits released): nothing happened that a retry could repeat, so the key may be
 * freed for one. The guard is in the statement: a job that is open or has a task stays tied.
 * Returns false when nothing was untied.
 */
export async function detachIdempotencyJob(
  db: DbExecutor,
  input: { userId: string; key: string; claimToken: string; generationId: string },
): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`
      UPDATE ${idempotencyKeys} SET generation_id = NULL
      WHERE ${heldClaim(input)} AND generation_id = ${input.generationId}::uuid
        AND EXISTS (
          SELECT 1 FROM ${generations} AS job
          WHERE job.id = ${input.generationId}::uuid AND job.status = 'failed' AND job.kie_task_id IS NULL
        )
      RETURNING 1 AS detached`,
  );
  return rows.length === 1;
}

/**
 * Deletes expired rows (finished replay windows and ended leases), at most `limit` per call so a
 * large backlog never holds locks for long; the reconciler calls it until it returns < limit.
 * Rows another transaction is claiming right now are skipped, not waited for. A claim that holds
 * a job (its request stopped, or its answer failed) stays for the replay window, like a stored
 * response: a retry within it must find the job, never a free key that would make and charge a
 * second one.
 */
export async function purgeExpiredIdempotencyKeys(
  db: DbExecutor,
  { now, limit = 1000, ttlMs = IDEMPOTENCY_TTL_MS }: { now?: Date; limit?: number; ttlMs?: number } = {},
): Promise<number> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer`);
  const at = timestampOf(now);
  const rows = await queryRows(
    db,
    sql`
      DELETE FROM ${idempotencyKeys}
      WHERE (user_id, key) IN (
        SELECT user_id, key FROM ${idempotencyKeys}
        WHERE expires_at <= ${at}
          AND (generation_id IS NULL OR state = 'completed'
            OR created_at <= ${at} - ${millis(ttlMs)})
        ORDER BY expires_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING 1 AS purged`,
  );
  return rows.length;
}

function assertKey(key: string): void {
  if (key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new RangeError(`an idempotency key has 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters`);
  }
}

function assertPositiveMs(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${name} must be a positive number of ms`);
}
