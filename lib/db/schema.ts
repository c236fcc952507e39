/**
 * The database schema (DESIGN.md §4, §5). Every table lives in the private `nano_banana` schema,
 * which Supabase's Data API does not expose (it serves `public`), and has row level security
 * enabled with no policies, so even an exposed schema would return nothing to anon/authenticated
 * roles. The app connects as the owner, which RLS does not restrict.
 *
 * Change a table here, then run `npx drizzle-kit generate --name <what_changed>` and commit the
 * new SQL in lib/db/migrations/ (applied at start-up by openDatabase).
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { GENERATION_TYPES, type GenerationType } from "../catalog/generationTypes";

export const nanoBanana = pgSchema("nano_banana");

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

/** A signed-in person. `id` is the auth subject (Supabase user id, or the dev sign-in subject). */
export const users = nanoBanana
  .table(
    "users",
    {
      id: text("id").primaryKey(),
      email: text("email"),
      createdAt: createdAt(),
    },
    // Not unique: an email can move between auth subjects; the operator CLI reports ambiguity.
    (t) => [index("users_email_lower_idx").on(sql`lower(${t.email})`)],
  )
  .enableRLS();

export const creditAccounts = nanoBanana
  .table(
    "credit_accounts",
    {
      userId: text("user_id")
        .primaryKey()
        .references(() => users.id),
      balance: integer("balance").notNull(),
      updatedAt: updatedAt(),
    },
    (t) => [check("credit_accounts_balance_not_negative", sql`${t.balance} >= 0`)],
  )
  .enableRLS();

export { GENERATION_TYPES, type GenerationType };

export interface StoredInputImage {
  key: string;
  type: string;
  bytes: number;
  sha256: string;
}

/**
 * `queued`: in our line for a KIE create token (docs/JOBS.md "The line"), credits reserved, no
 * KIE task yet; the public API shows it as `pending` with its place in the line.
 */
export const GENERATION_STATUSES = [
  "queued",
  "pending",
  "processing",
  "succeeded",
  "failed",
  "timeout",
] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];
/** Statuses a job can still leave; every other status is final and has `settled_at`. */
export const OPEN_GENERATION_STATUSES = [
  "queued",
  "pending",
  "processing",
] as const satisfies readonly GenerationStatus[];

export const generations = nanoBanana
  .table(
    "generations",
    {
      id: uuid("id").primaryKey().defaultRandom(),
      userId: text("user_id")
        .notNull()
        .references(() => users.id),
      /** KIE's taskId, written after createTask succeeds; null while unknown (DESIGN.md §5). */
      kieTaskId: text("kie_task_id").unique("generations_kie_task_id_unique"),
      type: text("type", { enum: GENERATION_TYPES }).notNull(),
      model: text("model").notNull(),
      prompt: text("prompt").notNull(),
      params: jsonb("params").$type<Record<string, unknown>>().notNull().default({}),
      status: text("status", { enum: GENERATION_STATUSES }).notNull().default("pending"),
      resultUrls: jsonb("result_urls").$type<string[]>(),
      errorCode: text("error_code"),
      errorMessage: text("error_message"),
      cost: integer("cost").notNull(),
      /**
       * What KIE says its task cost, in KIE credits (`creditsConsumed` in recordInfo or the
       * callback); null until KIE says. Kept for the operator to compare prices with KIE's bill.
       */
      kieCreditsConsumed: doublePrecision("kie_credits_consumed"),
      /** Hash of the per-job callback secret; the secret itself is only in KIE's callBackUrl. */
      callbackTokenHash: text("callback_token_hash"),
      idempotencyKey: text("idempotency_key"),
      requestId: text("request_id"),
      /** Single-flight refresh lease (DESIGN.md §5); null until the first refresh. */
      refreshedAt: timestamp("refreshed_at", { withTimezone: true }),
      createdAt: createdAt(),
      updatedAt: updatedAt(),
      settledAt: timestamp("settled_at", { withTimezone: true }),
      // The result copied into our own store (DESIGN.md §9); `result_urls` keeps KIE's URLs.
      imageKey: text("image_key"),
      imageThumbKey: text("image_thumb_key"),
      imageBytes: integer("image_bytes"),
      imageType: text("image_type"),
      imageWidth: integer("image_width"),
      imageHeight: integer("image_height"),
      imageSha256: text("image_sha256"),
      /** Set once the image (and its thumbnail) are in the store; null = served from KIE's URL. */
      imageStoredAt: timestamp("image_stored_at", { withTimezone: true }),
      /** Failed copies so far, and when the reconciler may try again (store down). */
      imageAttempts: integer("image_attempts").notNull().default(0),
      imageRetryAt: timestamp("image_retry_at", { withTimezone: true }),
      /** Set when the stored files were deleted (by the owner or IMAGE_RETENTION_DAYS). */
      imagesDeletedAt: timestamp("images_deleted_at", { withTimezone: true }),
      /** An edit's uploaded inputs as stored: [{ key, type, bytes, sha256 }]. */
      inputImages: jsonb("input_images").$type<StoredInputImage[]>(),
      /** Things the user should know about the result (e.g. its aspect ratio is not the one asked). */
      warnings: jsonb("warnings").$type<string[]>(),
      /**
       * While queued (docs/JOBS.md "The line"): the round of the line's round robin the job is
       * served in — one past its user's last queued job, and never before the round being served.
       */
      queueRound: integer("queue_round"),
      /**
       * When KIE's task was recorded (createTask answered): the job's age at KIE, which its polling
       * and its callback's grace count from — a job that waited in line is new to KIE. The job's
       * own timeout still counts from `created_at` (what the user waited).
       */
      submittedAt: timestamp("submitted_at", { withTimezone: true }),
      /** The job whose result this one edits (`sourceTaskId`): its parent in the user's edit tree. */
      parentId: uuid("parent_id").references((): AnyPgColumn => generations.id),
      /**
       * The jobs one request made (`n` variations, DESIGN.md §3) share this id; a job of its own
       * (n = 1) has its own id here. Null on jobs made before batches existed.
       */
      batchId: uuid("batch_id"),
      /** The owner deleted the job: hidden from them; the row stays for the ledger. */
      deletedAt: timestamp("deleted_at", { withTimezone: true }),
    },
    (t) => [
      // NULLS FIRST is what a plain `ORDER BY created_at DESC, id DESC` asks for, so the index serves it.
      index("generations_user_newest_idx").on(
        t.userId,
        t.createdAt.desc().nullsFirst(),
        t.id.desc().nullsFirst(),
      ),
      index("generations_status_created_idx").on(t.status, t.createdAt),
      // The line, in the order it is served.
      index("generations_parent_idx").on(t.parentId).where(sql`${t.parentId} is not null`),
      index("generations_batch_idx").on(t.batchId).where(sql`${t.batchId} is not null`),
      index("generations_line_idx").on(t.queueRound, t.createdAt, t.id).where(sql`${t.status} = 'queued'`),
      // The reconciler's "copy later" queue: results not yet in our store.
      index("generations_image_pending_idx")
        .on(t.imageRetryAt)
        .where(
          sql`${t.resultUrls} is not null and ${t.imageStoredAt} is null and ${t.imagesDeletedAt} is null`,
        ),
      // IMAGE_RETENTION_DAYS pruning: stored images by age.
      index("generations_image_stored_idx")
        .on(t.imageStoredAt)
        .where(sql`${t.imageStoredAt} is not null and ${t.imagesDeletedAt} is null`),
      check("generations_type_valid", sql`${t.type} in ('text_to_image', 'image_edit')`),
      check(
        "generations_status_valid",
        sql`${t.status} in ('queued', 'pending', 'processing', 'succeeded', 'failed', 'timeout')`,
      ),
      check("generations_cost_not_negative", sql`${t.cost} >= 0`),
      // A job is settled exactly when it has left queued/pending/processing: settle() must set both.
      check(
        "generations_settled_iff_final",
        sql`(${t.status} in ('queued', 'pending', 'processing')) = (${t.settledAt} is null)`,
      ),
    ],
  )
  .enableRLS();

export const CREDIT_LEDGER_KINDS = ["reserve", "capture", "release", "grant"] as const;
export type CreditLedgerKind = (typeof CREDIT_LEDGER_KINDS)[number];

/**
 * Append-only record of every credit movement (a trigger refuses UPDATE and DELETE). `amount` is
 * a magnitude; its effect on the balance depends on `kind`: grant +amount, reserve −amount,
 * release +amount (gives a reserve back), capture 0 (keeps it). So for every account:
 * balance = Σgrant − Σreserve + Σrelease.
 */
export const creditLedger = nanoBanana
  .table(
    "credit_ledger",
    {
      id: uuid("id").primaryKey().defaultRandom(),
      userId: text("user_id")
        .notNull()
        .references(() => users.id),
      generationId: uuid("generation_id").references(() => generations.id),
      kind: text("kind", { enum: CREDIT_LEDGER_KINDS }).notNull(),
      amount: integer("amount").notNull(),
      /** Makes a grant idempotent, e.g. "initial:<userId>"; null for ordinary grants and job rows. */
      reference: text("reference"),
      createdAt: createdAt(),
    },
    (t) => [
      unique("credit_ledger_generation_kind_unique").on(t.generationId, t.kind),
      unique("credit_ledger_reference_unique").on(t.reference),
      // The "never both" backstop: one settlement (capture or release) per generation.
      uniqueIndex("credit_ledger_one_settlement_per_generation")
        .on(t.generationId)
        .where(sql`${t.kind} in ('capture', 'release')`),
      index("credit_ledger_user_idx").on(t.userId, t.createdAt),
      check("credit_ledger_kind_valid", sql`${t.kind} in ('reserve', 'capture', 'release', 'grant')`),
      check("credit_ledger_amount_not_negative", sql`${t.amount} >= 0`),
      check(
        "credit_ledger_generation_matches_kind",
        sql`(${t.kind} = 'grant') = (${t.generationId} is null)`,
      ),
    ],
  )
  .enableRLS();

export const IDEMPOTENCY_STATES = ["in_progress", "completed"] as const;
export type IdempotencyState = (typeof IDEMPOTENCY_STATES)[number];

export const idempotencyKeys = nanoBanana
  .table(
    "idempotency_keys",
    {
      userId: text("user_id")
        .notNull()
        .references(() => users.id),
      key: text("key").notNull(),
      requestFingerprint: text("request_fingerprint").notNull(),
      state: text("state", { enum: IDEMPOTENCY_STATES }).notNull().default("in_progress"),
      responseStatus: integer("response_status"),
      responseBody: jsonb("response_body").$type<unknown>(),
      generationId: uuid("generation_id").references(() => generations.id, { onDelete: "set null" }),
      createdAt: createdAt(),
      expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    },
    (t) => [
      primaryKey({ name: "idempotency_keys_pk", columns: [t.userId, t.key] }),
      index("idempotency_keys_expires_idx").on(t.expiresAt),
      check("idempotency_keys_state_valid", sql`${t.state} in ('in_progress', 'completed')`),
      check("idempotency_keys_key_length", sql`char_length(${t.key}) between 1 and 255`),
    ],
  )
  .enableRLS();

/**
 * KIE's account-wide budget (lib/db/kieBudget.ts): one row per key (`create`, `read`), in the
 * shape rate-limiter-flexible's RateLimiterDrizzle reads and writes — points taken in the current
 * window and when that window ends. Every instance counts here, so all share KIE's limits.
 */
export const kieBudget = nanoBanana
  .table("kie_budget", {
    key: text("key").primaryKey(),
    points: integer("points").notNull(),
    expire: timestamp("expire", { withTimezone: true }),
  })
  .enableRLS();

/**
 * Sessions ended by sign-out (DESIGN.md §6): a token whose `session_id` is here is refused, so a
 * copy of it dies with the sign-out instead of living until it expires. A row is needed only
 * until the session's token would have expired anyway (`expires_at`); later ones are purged.
 */
export const revokedSessions = nanoBanana
  .table(
    "revoked_sessions",
    {
      sessionId: text("session_id").primaryKey(),
      userId: text("user_id").notNull(),
      expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
      createdAt: createdAt(),
    },
    (t) => [index("revoked_sessions_expires_idx").on(t.expiresAt)],
  )
  .enableRLS();

/**
 * What the poll schedule has learned (lib/db/modelDurations.ts): per model, how long its last
 * successful tasks took by KIE's own clock (completeTime − createTime), newest last, at most 20.
 * Shared by every instance, so a new or restarted one polls as well as an old one.
 */
export const modelDurations = nanoBanana
  .table(
    "model_durations",
    {
      model: text("model").primaryKey(),
      samplesMs: integer("samples_ms").array().notNull(),
      updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [check("model_durations_samples_kept", sql`cardinality(${t.samplesMs}) between 1 and 20`)],
  )
  .enableRLS();

export type User = typeof users.$inferSelect;
export type CreditAccount = typeof creditAccounts.$inferSelect;
export type Generation = typeof generations.$inferSelect;
export type NewGeneration = typeof generations.$inferInsert;
export type CreditLedgerEntry = typeof creditLedger.$inferSelect;
export type IdempotencyKey = typeof idempotencyKeys.$inferSelect;

/**
 * Personal API keys (`nbk_…`, DESIGN.md §3 "API keys"). Only the key's SHA-256 is kept (never the
 * key), with its first characters for the list; a revoked key keeps its row (revoked_at) so its
 * hash can never authenticate again. `last_used_at` is written at most once a minute per key.
 */
export const apiKeys = nanoBanana
  .table(
    "api_keys",
    {
      id: uuid("id").primaryKey().defaultRandom(),
      userId: text("user_id")
        .notNull()
        .references(() => users.id),
      name: text("name").notNull(),
      prefix: text("prefix").notNull(),
      keyHash: text("key_hash").notNull(),
      createdAt: createdAt(),
      lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
      revokedAt: timestamp("revoked_at", { withTimezone: true }),
    },
    (t) => [uniqueIndex("api_keys_hash_idx").on(t.keyHash), index("api_keys_user_idx").on(t.userId)],
  )
  .enableRLS();

export type ApiKeyRow = typeof apiKeys.$inferSelect;
