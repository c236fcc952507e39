import { z } from "zod";

/** The most jobs one watch (`GET /api/generations?taskIds=`) follows at once. */
export const MAX_WATCHED_TASKS = 20;

/**
 * `?taskIds=a,b,c` on GET /api/generations (DESIGN.md §3): the jobs a page is following, read in
 * one request (and, with `Prefer: wait=N`, waited for together) instead of one long-poll each.
 */
export const taskIdsParamSchema = z
  .string()
  .max(MAX_WATCHED_TASKS * 101)
  .transform((raw) => raw.split(","))
  .pipe(z.array(z.string().min(1).max(100)).min(1).max(MAX_WATCHED_TASKS))
  .meta({
    description: `1–${MAX_WATCHED_TASKS} task ids, comma-separated: those jobs only (unknown and others' left out); with Prefer: wait=N held until one of them has ended or N seconds pass.`,
  });
