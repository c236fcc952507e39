/**
 * SQL for stored result images (DESIGN.md §9): which row an image belongs to, recording a copy,
 * the reconciler's "copy later" queue, deletion and retention. Kept apart from generations.ts,
 * whose statements are about a job's lifecycle and money.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { type Generation, generations } from "./schema";

/** A job's row for serving its image; a job its owner deleted is not found. */
export async function findImageJob(db: DbExecutor, id: string): Promise<Generation | undefined> {
  const [row] = await db
    .select()
    .from(generations)
    .where(and(eq(generations.id, id), isNull(generations.deletedAt)));
  return row;
}
