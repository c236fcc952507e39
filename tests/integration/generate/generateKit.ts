/**
 * Shared steps for the POST /api/generate integration tests: calling the route as a client would,
 * reading the balance and the ledger, counting what reached kie-sim, and bounded polling.
 */
import { eq } from "drizzle-orm";
import sharp from "sharp";
import { creditLedger, type Database, generations } from "@/lib/db";
import type { Harness } from "../../helpers/appHarness";

import { eventually } from "../../helpers/probes";

export { creditsOf } from "../../helpers/probes";

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  body: any;
}

export interface GenerateOptions {
  token?: string;
  /** "wait" (sync) or "respond-async"; omitted → the server's default. */
  prefer?: "wait" | "respond-async";
  idempotencyKey?: string;
  headers?: Record<string, string>;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

function headersFor(options: GenerateOptions, contentType?: string): Record<string, string> {
  return {
    ...(contentType && { "content-type": contentType }),
    ...(options.prefer && { prefer: options.prefer }),
    ...(options.idempotencyKey !== undefined && { "idempotency-key": options.idempotencyKey }),
    ...options.headers,
  };
}

/** POST /api/generate with a JSON body (a string is sent as is, e.g. malformed JSON). */
export async function generateJson(
  h: Harness,
  body: unknown,
  options: GenerateOptions = {},
): Promise<Answer> {
  return answer(
    await h.fetch("/api/generate", {
      method: "POST",
      token: options.token,
      headers: headersFor(options, "application/json"),
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

/** POST /api/generate as multipart/form-data (fetch sets the boundary). */
export async function generateMultipart(
  h: Harness,
  form: FormData,
  options: GenerateOptions = {},
): Promise<Answer> {
  return answer(
    await h.fetch("/api/generate", {
      method: "POST",
      token: options.token,
      headers: headersFor(options),
      body: form,
    }),
  );
}

export async function getStatus(h: Harness, token: string | undefined, taskId: string): Promise<Answer> {
  return answer(await h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, { token }));
}

export interface LedgerRow {
  kind: string;
  amount: number;
  generationId: string | null;
}

/** The user's ledger rows for jobs (reserve/capture/release), the initial grant left out. */
export async function jobLedgerOf(database: Database, userId: string): Promise<LedgerRow[]> {
  const rows = await database.db
    .select({ kind: creditLedger.kind, amount: creditLedger.amount, generationId: creditLedger.generationId })
    .from(creditLedger)
    .where(eq(creditLedger.userId, userId));
  return rows.filter((row) => row.kind !== "grant");
}

/** What KIE said the job of this KIE task cost (kie_credits_consumed), null while it has not said. */
export async function kieCreditsOf(
  database: Database,
  kieTaskId: string,
): Promise<number | null | undefined> {
  const [row] = await database.db
    .select({ credits: generations.kieCreditsConsumed })
    .from(generations)
    .where(eq(generations.kieTaskId, kieTaskId));
  return row?.credits;
}

/** Ledger kinds in a stable order, e.g. ["capture", "reserve"]. */
export function kindsOf(rows: LedgerRow[]): string[] {
  return rows.map((row) => row.kind).sort();
}

/** Everything the app can have sent to KIE: task creations and file uploads (all three kinds). */
export function kieWork(h: Harness): { createTask: number; uploadCalls: number; uploads: number } {
  const { calls, uploads } = h.sim.stats();
  return {
    createTask: calls.createTask,
    uploadCalls: calls.fileStreamUpload + calls.fileBase64Upload + calls.fileUrlUpload,
    uploads,
  };
}

/** Re-checks `condition` every `intervalMs` until it holds; throws after about `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = {},
): Promise<void> {
  await eventually(what, condition, (held) => held, {
    attempts: Math.ceil(timeoutMs / intervalMs),
    intervalMs,
  });
}

const OPEN = new Set(["pending", "processing"]);

/** Polls GET /api/generate/:taskId (bounded) until the job is settled; returns the last answer. */
export async function pollUntilSettled(
  h: Harness,
  token: string,
  taskId: string,
  { timeoutMs = 15_000, intervalMs = 100 } = {},
): Promise<Answer> {
  let last = await getStatus(h, token, taskId);
  await waitFor(
    async () => {
      if (last.status !== 200 || !OPEN.has(last.body.status)) return true;
      last = await getStatus(h, token, taskId);
      return last.status !== 200 || !OPEN.has(last.body.status);
    },
    { timeoutMs, intervalMs, what: `task ${taskId} to settle` },
  );
  return last;
}

/** A small, real PNG (solid colour). */
export function pngImage(width = 32, height = 24, color = { r: 200, g: 40, b: 90 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();
}

export function dataUri(mimeType: string, bytes: Uint8Array | string): string {
  return `data:${mimeType};base64,${Buffer.from(bytes).toString("base64")}`;
}

/** The `input` object the app sent in createTask, as kie-sim recorded it. */
export function kieInputOf(h: Harness, taskId: string): { model: string; input: Record<string, unknown> } {
  const task = h.sim.task(taskId);
  if (!task) throw new Error(`kie-sim has no task ${taskId}`);
  const param = JSON.parse(task.param) as { model: string; input: Record<string, unknown> };
  return { model: param.model, input: param.input };
}
