/**
 * SQL for stored result images (DESIGN.md §9): which row an image belongs to, recording a copy,
 * the reconciler's "copy later" queue, deletion and retention. Kept apart from generations.ts,
 * whose statements are about a job's lifecycle and money.
 */
import { and, eq, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import { batchImagesKept } from "./batchInputs";
import type { DbExecutor } from "./client";
import { queryRows } from "./rows";
import { type Generation, generations, OPEN_GENERATION_STATUSES, type StoredInputImage } from "./schema";

/** The columns a stored copy fills (`image_stored_at` is set with them). */
export interface StoredImageColumns {
  key: string;
  thumbKey: string;
  bytes: number;
  type: string;
  width: number;
  height: number;
  sha256: string;
}

export function storedImageValues(image: StoredImageColumns) {
  return {
    imageKey: image.key,
    imageThumbKey: image.thumbKey,
    imageBytes: image.bytes,
    imageType: image.type,
    imageWidth: image.width,
    imageHeight: image.height,
    imageSha256: image.sha256,
    imageStoredAt: sql`now()`,
    imageRetryAt: null,
  };
}

/** A job's row for serving its image; a job its owner deleted is not found. */
export async function findImageJob(db: DbExecutor, id: string): Promise<Generation | undefined> {
  const [row] = await db
    .select()
    .from(generations)
    .where(and(eq(generations.id, id), isNull(generations.deletedAt)));
  return row;
}

/** Records a copy made after settlement (the reconciler's); once only, and never onto deleted files. */
export async function recordStoredImage(
  db: DbExecutor,
  id: string,
  image: StoredImageColumns,
  warnings: string[],
): Promise<boolean> {
  const rows = await db
    .update(generations)
    .set({
      ...storedImageValues(image),
      warnings: warnings.length > 0 ? warnings : null,
      updatedAt: sql`now()`,
    })
    .where(
      and(eq(generations.id, id), isNull(generations.imageStoredAt), isNull(generations.imagesDeletedAt)),
    )
    .returning({ id: generations.id });
  return rows.length === 1;
}

/**
 * Claims up to `limit` settled jobs whose result is not yet in our store and whose retry time has
 * come (SKIP LOCKED, so instances share the work); the claim pushes the retry time out by
 * `leaseMs`, so a crash mid-copy only delays the next try.
 */
export async function claimUnstoredImages(
  db: DbExecutor,
  options: { limit: number; leaseMs: number },
): Promise<Generation[]> {
  return db.transaction(async (tx) => {
    const due = await queryRows<{ id: string }>(
      tx,
      sql`
        SELECT id FROM ${generations}
        WHERE result_urls IS NOT NULL AND image_stored_at IS NULL AND images_deleted_at IS NULL
          AND deleted_at IS NULL AND status IN ('succeeded', 'timeout')
          AND (image_retry_at IS NULL OR image_retry_at <= now())
        ORDER BY image_retry_at NULLS FIRST
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED`,
    );
    if (due.length === 0) return [];
    return tx
      .update(generations)
      .set({ imageRetryAt: sql`now() + make_interval(secs => ${options.leaseMs / 1000})` })
      .where(
        inArray(
          generations.id,
          due.map((row) => row.id),
        ),
      )
      .returning();
  });
}

/** An edit's inputs as stored at upload time. */
export async function recordInputImages(
  db: DbExecutor,
  id: string,
  inputs: StoredInputImage[],
): Promise<void> {
  await db.update(generations).set({ inputImages: inputs }).where(eq(generations.id, id));
}

/** A failed copy: try again after `retryInMs`, or never (`null`: KIE's file is gone). */
export async function recordCopyFailure(db: DbExecutor, id: string, retryInMs: number | null): Promise<void> {
  await db
    .update(generations)
    .set({
      imageAttempts: sql`${generations.imageAttempts} + 1`,
      imageRetryAt:
        retryInMs === null
          ? sql`'infinity'::timestamptz`
          : sql`now() + make_interval(secs => ${retryInMs / 1000})`,
    })
    .where(eq(generations.id, id));
}

/**
 * The owner deletes a settled job: hidden from them from now on, its files marked deleted (the
 * caller removes them; the orphan sweep catches what it could not). The ledger keeps its rows.
 * Returns the row as it was, or undefined (unknown, someone else's, already deleted).
 */
export async function markJobDeleted(
  db: DbExecutor,
  id: string,
  userId: string,
): Promise<Generation | undefined> {
  const [row] = await db
    .update(generations)
    .set({ deletedAt: sql`now()`, imagesDeletedAt: sql`coalesce(${generations.imagesDeletedAt}, now())` })
    .where(
      and(
        eq(generations.id, id),
        eq(generations.userId, userId),
        isNull(generations.deletedAt),
        inArray(generations.status, ["succeeded", "failed", "timeout"]),
      ),
    )
    .returning();
  return row;
}

/**
 * IMAGE_RETENTION_DAYS: marks up to `limit` jobs settled more than `days` ago as having no images
 * any more and returns them (the caller deletes their files).
 */
export async function markExpiredImages(db: DbExecutor, days: number, limit: number): Promise<Generation[]> {
  return db.transaction(async (tx) => {
    const expired = await queryRows<{ id: string }>(
      tx,
      sql`
        SELECT id FROM ${generations}
        WHERE images_deleted_at IS NULL AND settled_at < now() - make_interval(days => ${days})
          AND (image_key IS NOT NULL OR input_images IS NOT NULL OR result_urls IS NOT NULL)
        ORDER BY settled_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`,
    );
    if (expired.length === 0) return [];
    return tx
      .update(generations)
      .set({ imagesDeletedAt: sql`now()` })
      .where(
        inArray(
          generations.id,
          expired.map((row) => row.id),
        ),
      )
      .returning();
  });
}

/**
 * Of these jobs, the store keys still in use: the images of rows whose images are not deleted, and
 * the inputs of a batch while any of its jobs keeps its images (batchInputs.ts).
 */
export async function keysInUse(db: DbExecutor, jobIds: string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await db
    .select({
      key: generations.imageKey,
      thumb: generations.imageThumbKey,
      inputs: generations.inputImages,
      imagesKept: sql<boolean>`${generations.imagesDeletedAt} IS NULL`,
      batchKept: batchImagesKept,
    })
    .from(generations)
    .where(
      and(
        inArray(generations.id, jobIds),
        or(isNotNull(generations.imageKey), isNotNull(generations.inputImages)),
      ),
    );
  const keys = new Set<string>();
  for (const row of rows) {
    if (row.imagesKept && row.key) keys.add(row.key);
    if (row.imagesKept && row.thumb) keys.add(row.thumb);
    if (row.imagesKept || row.batchKept) for (const input of row.inputs ?? []) keys.add(input.key);
  }
  return keys;
}

/** Open jobs among these (their copy may be in flight: the sweep leaves their files alone). */
export async function openJobIds(db: DbExecutor, jobIds: string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await db
    .select({ id: generations.id })
    .from(generations)
    .where(and(inArray(generations.id, jobIds), inArray(generations.status, OPEN_GENERATION_STATUSES)));
  return new Set(rows.map((row) => row.id));
}
