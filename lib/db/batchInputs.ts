/**
 * A batch's uploaded inputs (`n` variations, DESIGN.md §3 "Run again") are stored once, under its
 * first job, and every job of the batch names them in its stored request. So they belong to the
 * batch: kept while any of its jobs still has its images, removed with the last one — whichever
 * job is deleted first (the first one included) or pruned.
 */
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { type Generation, generations } from "./schema";

/** Whether another job of `job`'s batch still has its images (the batch's inputs are in use). */
export async function batchKeepsInputs(
  db: DbExecutor,
  job: Pick<Generation, "id" | "batchId">,
): Promise<boolean> {
  if (!job.batchId) return false;
  const [kept] = await db
    .select({ id: generations.id })
    .from(generations)
    .where(
      and(
        eq(generations.batchId, job.batchId),
        ne(generations.id, job.id),
        isNull(generations.imagesDeletedAt),
      ),
    )
    .limit(1);
  return kept !== undefined;
}

/**
 * The input files to remove with `job`'s images: its own, or for a job of a batch none while
 * another job of the batch keeps its images, else every input the batch stored.
 */
export async function inputKeysToRemove(
  db: DbExecutor,
  job: Pick<Generation, "id" | "batchId" | "inputImages">,
): Promise<string[]> {
  if (!job.batchId) return (job.inputImages ?? []).map((input) => input.key);
  if (await batchKeepsInputs(db, job)) return [];
  const rows = await db
    .select({ inputs: generations.inputImages })
    .from(generations)
    .where(eq(generations.batchId, job.batchId));
  return rows.flatMap((row) => (row.inputs ?? []).map((input) => input.key));
}

/** SQL: the row's batch has a job whose images are kept (the orphan sweep keeps its inputs). */
export const batchImagesKept = sql<boolean>`EXISTS (
  SELECT 1 FROM ${generations} AS sibling
  WHERE sibling.batch_id = ${generations.batchId} AND sibling.images_deleted_at IS NULL)`;
