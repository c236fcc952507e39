/**
 * The credit ledger (DESIGN.md §4): reserve at request time, then exactly one of capture
 * (delivered) or release (failed: the reserve is given back). Every check-and-change is a single
 * conditional SQL statement, so concurrent callers cannot overdraw or settle twice; the unique
 * indexes on credit_ledger are the backstop.
 *
 * Every function takes the database or an open transaction, so settle() can change a job's
 * status and capture/release in one transaction. Multi-statement functions use a nested
 * transaction (a savepoint inside a caller's transaction).
 */
import { eq, sql } from "drizzle-orm";
import { creditAccounts, creditLedger, type DbExecutor, queryRows, users } from "@/lib/db";
import { AlreadyReservedError, InsufficientCreditsError, UnknownUserError } from "./errors";

export interface EnsureAccountOptions {
  /** CREDITS_INITIAL: granted once, when the account is created. */
  initialCredits: number;
  /** Stored (and kept current) so the operator CLI can find the user by email. */
  email?: string;
}

export interface ReserveInput {
  userId: string;
  cost: number;
  /** The job being paid for; its row must already exist. */
  generationId: string;
}

export interface GrantInput {
  userId: string;
  amount: number;
  /** Makes the grant idempotent: a second grant with the same reference changes nothing. */
  reference?: string;
}

/** `applied: false` means another call already settled this generation (or it has no reserve). */
export type SettlementResult = { applied: true; amount: number } | { applied: false };

export const initialGrantReference = (userId: string) => `initial:${userId}`;

/**
 * Creates the user and their account with `initialCredits` on first sight. Safe to call on every
 * request: concurrent first requests create one account and one initial grant.
 */
export async function ensureAccount(
  db: DbExecutor,
  userId: string,
  options: EnsureAccountOptions,
): Promise<{ created: boolean }> {
  assertCredits("initialCredits", options.initialCredits);
  return db.transaction(async (tx) => {
    const user = tx.insert(users).values({ id: userId, email: options.email });
    await (options.email === undefined
      ? user.onConflictDoNothing()
      : user.onConflictDoUpdate({
          target: users.id,
          set: { email: sql`excluded.email` },
          setWhere: sql`${users.email} is distinct from excluded.email`,
        }));
    const created = await tx
      .insert(creditAccounts)
      .values({ userId, balance: options.initialCredits })
      .onConflictDoNothing()
      .returning({ userId: creditAccounts.userId });
    if (created.length === 0) return { created: false };
    await tx.insert(creditLedger).values({
      userId,
      kind: "grant",
      amount: options.initialCredits,
      reference: initialGrantReference(userId),
    });
    return { created: true };
  });
}

/**
 * Takes `cost` credits from the balance for `generationId`, or throws InsufficientCreditsError
 * having written nothing.
 *
 * One statement (debit + ledger row): one round trip, and atomic on its own, so it needs no
 * savepoint inside the caller's transaction. A second reserve for the same generation breaks the
 * ledger's unique index, which fails the whole statement: its debit is never applied.
 */
export async function reserve(db: DbExecutor, input: ReserveInput): Promise<{ remaining: number }> {
  assertCredits("cost", input.cost);
  let rows: { balance: number }[];
  try {
    rows = await queryRows<{ balance: number }>(
      db,
      sql`
        WITH debited AS (
          UPDATE ${creditAccounts}
          SET balance = balance - ${input.cost}, updated_at = now()
          WHERE user_id = ${input.userId} AND balance >= ${input.cost}
          RETURNING user_id, balance
        ), recorded AS (
          INSERT INTO ${creditLedger} (user_id, generation_id, kind, amount)
          SELECT user_id, ${input.generationId}, 'reserve', ${input.cost} FROM debited
          RETURNING id
        )
        SELECT debited.balance FROM debited, recorded`,
    );
  } catch (error) {
    if (isUniqueViolation(error)) throw new AlreadyReservedError(input.generationId);
    throw error;
  }
  const [debited] = rows;
  if (!debited) throw new InsufficientCreditsError((await balance(db, input.userId)) ?? 0, input.cost);
  return { remaining: debited.balance };
}

/** Postgres' unique_violation (23505), however the driver wraps it. */
function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error || (typeof e === "object" && e !== null); ) {
    if ((e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Keeps the reserved credits (the job delivered). Once per generation, and never after release. */
export async function capture(db: DbExecutor, generationId: string): Promise<SettlementResult> {
  const rows = await queryRows<{ amount: number }>(
    db,
    sql`
      INSERT INTO ${creditLedger} (user_id, generation_id, kind, amount)
      SELECT user_id, generation_id, 'capture', amount FROM ${creditLedger}
      WHERE generation_id = ${generationId} AND kind = 'reserve'
      ON CONFLICT DO NOTHING
      RETURNING amount`,
  );
  return settlementResult(rows);
}

/** Gives the reserved credits back (the job failed). Once per generation, and never after capture. */
export async function release(db: DbExecutor, generationId: string): Promise<SettlementResult> {
  // One statement: the ledger row and the refund commit together or not at all.
  const rows = await queryRows<{ amount: number }>(
    db,
    sql`
      WITH released AS (
        INSERT INTO ${creditLedger} (user_id, generation_id, kind, amount)
        SELECT user_id, generation_id, 'release', amount FROM ${creditLedger}
        WHERE generation_id = ${generationId} AND kind = 'reserve'
        ON CONFLICT DO NOTHING
        RETURNING user_id, amount
      )
      UPDATE ${creditAccounts} AS account
      SET balance = account.balance + released.amount, updated_at = now()
      FROM released
      WHERE account.user_id = released.user_id
      RETURNING released.amount`,
  );
  return settlementResult(rows);
}

/**
 * Adds credits to a user's balance (operator grants). With a `reference` already used, nothing
 * changes and `applied` is false. The user needs a credit account (ensureAccount creates it on
 * their first request, with the initial grant): otherwise UnknownUserError, and nothing changes.
 */
export async function grant(
  db: DbExecutor,
  input: GrantInput,
): Promise<{ applied: boolean; balance: number }> {
  assertCredits("amount", input.amount);
  if (input.amount === 0) throw new RangeError("amount must be a positive integer");
  // One statement: the ledger row and the new balance commit together or not at all.
  const rows = await queryRows<{ balance: number }>(
    db,
    sql`
      WITH granted AS (
        INSERT INTO ${creditLedger} (user_id, kind, amount, reference)
        SELECT user_id, 'grant', ${input.amount}, ${input.reference ?? null} FROM ${creditAccounts}
        WHERE user_id = ${input.userId}
        ON CONFLICT DO NOTHING
        RETURNING user_id, amount
      )
      UPDATE ${creditAccounts} AS account
      SET balance = account.balance + granted.amount, updated_at = now()
      FROM granted
      WHERE account.user_id = granted.user_id
      RETURNING account.balance`,
  );
  const [row] = rows;
  if (row) return { applied: true, balance: row.balance };
  // Nothing written: say why (a read for the answer, not for a decision).
  const current = await balance(db, input.userId);
  if (current === null) throw new UnknownUserError(input.userId);
  return { applied: false, balance: current };
}

/** The user's balance, or null when they have no credit account yet. */
export async function balance(db: DbExecutor, userId: string): Promise<number | null> {
  const [account] = await db
    .select({ balance: creditAccounts.balance })
    .from(creditAccounts)
    .where(eq(creditAccounts.userId, userId));
  return account?.balance ?? null;
}

function settlementResult(rows: { amount: number }[]): SettlementResult {
  const [row] = rows;
  return row ? { applied: true, amount: row.amount } : { applied: false };
}

/** Credits are whole, non-negative and fit the integer columns. */
function assertCredits(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > 2_147_483_647) {
    throw new RangeError(`${name} must be a non-negative integer (got ${value})`);
  }
}
