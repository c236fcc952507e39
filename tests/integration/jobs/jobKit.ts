/**
 * Small helpers shared by the job and API integration tests: start a job through the real route,
 * read its row and ledger straight from the database (reading the row never touches KIE), replay
 * KIE callbacks, and wait for a condition in a bounded loop (never an open-ended sleep).
 */
import { asc, eq, or, sql } from "drizzle-orm";
import { expect } from "vitest";
import { creditLedger, type Database, type Generation, generations } from "@/lib/db";
import { isUuid } from "@/lib/db/generations";
import type { Harness } from "../../helpers/appHarness";
import { eventually } from "../../helpers/probes";

export { creditsOf, eventually, pause } from "../../helpers/probes";

export interface StatusBody {
  success: boolean;
  taskId: string;
  status: "pending" | "processing" | "succeeded" | "failed" | "timeout";
  imageUrl?: string;
  sourceUrl?: string;
  images?: string[];
  creditsUsed?: number;
  remainingCredits?: number;
  error?: { code: string; message: string };
}

/** POST /api/generate in async mode; expects 202 and returns the public task id. */
export async function startJob(
  h: Harness,
  token: string,
  prompt: string,
  extra: Record<string, unknown> = {},
): Promise<{ taskId: string; statusUrl: string; remainingCredits: number }> {
  const response = await h.fetch("/api/generate", {
    method: "POST",
    token,
    headers: { "content-type": "application/json", prefer: "respond-async" },
    body: JSON.stringify({ prompt, ...extra }),
  });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(202);
  return { taskId: body.taskId, statusUrl: body.statusUrl, remainingCredits: body.remainingCredits };
}

/** GET /api/generate/:taskId as the owner; expects 200. */
export async function readStatus(h: Harness, token: string, taskId: string): Promise<StatusBody> {
  const response = await h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, { token });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body as StatusBody;
}

/** The job row by public task id (KIE's task id or our job id), read without refreshing it. */
export async function jobRow(database: Database, taskId: string): Promise<Generation> {
  const where = isUuid(taskId)
    ? or(eq(generations.id, taskId), eq(generations.kieTaskId, taskId))
    : eq(generations.kieTaskId, taskId);
  const [row] = await database.db.select().from(generations).where(where);
  if (!row) throw new Error(`no job for task ${taskId}`);
  return row;
}

/** The job's ledger rows by kind, e.g. { reserve: 1, capture: 1 }. */
export async function ledgerOf(database: Database, jobId: string): Promise<Record<string, number>> {
  const rows = await database.db
    .select({ kind: creditLedger.kind })
    .from(creditLedger)
    .where(eq(creditLedger.generationId, jobId))
    .orderBy(asc(creditLedger.createdAt));
  const counts: Record<string, number> = {};
  for (const { kind } of rows) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * Makes a job look `seconds` older, as if it had been created (and sent to KIE) that long ago: the
 * reconciler only sweeps jobs sent over ~20 s ago, and the job timeout counts from creation.
 */
export async function backdate(database: Database, jobId: string, seconds: number): Promise<void> {
  const rows = await database.db
    .update(generations)
    .set({
      createdAt: sql`${generations.createdAt} - make_interval(secs => ${seconds})`,
      submittedAt: sql`${generations.submittedAt} - make_interval(secs => ${seconds})`,
    })
    .where(eq(generations.id, jobId))
    .returning({ id: generations.id });
  expect(rows).toHaveLength(1);
}

/** KIE status reads the simulator has answered so far (all tasks). */
export function recordInfoReads(h: Harness): number {
  return h.sim.stats().calls.recordInfo;
}

export function isOpenStatus(status: string): boolean {
  return status === "pending" || status === "processing";
}

/** Waits until the job's row has settled (read from the database, so KIE is not read). */
export function settledRow(database: Database, taskId: string, attempts = 200): Promise<Generation> {
  return eventually(
    `job ${taskId} to settle`,
    () => jobRow(database, taskId),
    (row) => !isOpenStatus(row.status),
    { attempts },
  );
}

/** The simulator's record of a task (as recordInfo would show it once visible). */
export function simTask(h: Harness, taskId: string) {
  const task = h.sim.task(taskId);
  if (!task) throw new Error(`kie-sim has no task ${taskId}`);
  return task;
}

/** A KIE callback body for a task, shaped like the ones KIE (and kie-sim) send. */
export function callbackBody(
  taskId: string,
  state: "success" | "fail" | "generating",
  resultUrls: string[] = [],
): Record<string, unknown> {
  return {
    code: state === "fail" ? 501 : 200,
    msg: "Playground task completed successfully.",
    data: {
      taskId,
      model: "google/nano-banana",
      state,
      param: "",
      resultJson: state === "success" ? JSON.stringify({ resultUrls }) : "",
      failCode: "",
      failMsg: "",
      costTime: 1000,
      completeTime: Date.now(),
      createTime: Date.now() - 1000,
    },
  };
}

/** POSTs a callback over HTTP to the app, as KIE would. */
export function postCallback(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}
