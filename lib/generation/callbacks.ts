/**
 * KIE's completion callbacks (DESIGN.md §5): checked (per-job token in constant time, KIE's HMAC
 * signature when configured), then the job is settled from a fresh read of the task — never from
 * the body. A callback never drops its news: a held refresh lease is waited out, and an unreadable
 * record of a task adopted after an ambiguous createTask is read again on the re-check schedule.
 */
import { createHash, createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { attachKieTask, claimRefreshLease, findGeneration, isUuid } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import { secretsEqual } from "@/lib/security/secrets";
import { apply, readAndApply } from "./apply";
import { type GenerationContext, LEASE_MARGIN_MS, reread } from "./context";
import type { ProviderTask } from "./provider";
import { isOpen } from "./watch";

export interface CallbackInput {
  jobId: string | null;
  token: string | null;
  /** Called only once the job and its token check out: a stranger's body is never read. */
  readBody: () => Promise<unknown>;
  /** KIE's X-Webhook-Timestamp / X-Webhook-Signature, when the account signs callbacks. */
  timestamp?: string | null;
  signature?: string | null;
  requestId: string;
}

export type CallbackVerdict =
  | { accepted: true; process: () => Promise<void> }
  | { accepted: false; reason: "not_found" | "forbidden" | "bad_signature" | "bad_body" | "wrong_task" };

/** Callbacks (or timeouts) arriving within this window collapse into one KIE read. */
export const CALLBACK_LEASE_MS = 1_000;
/** Re-reads after a callback whose task KIE does not yet report as ended. */
const CALLBACK_RECHECK_DELAYS_MS = [1_000, 2_000, 4_000];
/** KIE signs `<taskId>.<timestamp>`; older signatures are refused (replays). */
const WEBHOOK_MAX_SKEW_MS = 5 * 60_000;
const CALLBACK_PATH = "/api/kie/callback";

/**
 * Checks a callback (per-job token in constant time, KIE's signature when configured) and
 * returns the work to do. The body is never trusted: the work re-reads the task from KIE.
 */
export async function verifyCallback(ctx: GenerationContext, input: CallbackInput): Promise<CallbackVerdict> {
  if (!input.jobId || !isUuid(input.jobId) || !input.token) return { accepted: false, reason: "not_found" };
  const job = await findGeneration(ctx.db, input.jobId);
  if (!job?.callbackTokenHash) return { accepted: false, reason: "not_found" };
  if (!secretsEqual(hashToken(input.token), job.callbackTokenHash))
    return { accepted: false, reason: "forbidden" };
  const parsed = ctx.provider.parseCallback(await input.readBody());
  if (!parsed.ok) return { accepted: false, reason: "bad_body" };
  if (ctx.settings.webhookHmacKey && !signatureValid(ctx, parsed.taskId, input.timestamp, input.signature)) {
    return { accepted: false, reason: "bad_signature" };
  }
  // A job is bound to one KIE task: a callback naming another is refused, not just ignored later.
  if (job.kieTaskId && job.kieTaskId !== parsed.taskId) return { accepted: false, reason: "wrong_task" };
  const token = input.token;
  return { accepted: true, process: () => processCallback(ctx, job, parsed.taskId, token) };
}

async function processCallback(
  ctx: GenerationContext,
  job: Generation,
  taskId: string,
  token: string,
): Promise<void> {
  let current = await reread(ctx, job);
  const requestId = current.requestId ?? current.id;
  if (current.kieTaskId && current.kieTaskId !== taskId) {
    ctx.logger.warn({ jobId: job.id, taskId }, "callback names another task than the job's; ignored");
    return;
  }
  let recheckDelays = [0, ...CALLBACK_RECHECK_DELAYS_MS];
  if (!current.kieTaskId) {
    const adopted = await adoptTask(ctx, current, taskId, token, requestId);
    if (!adopted) return;
    current = adopted;
    recheckDelays = CALLBACK_RECHECK_DELAYS_MS;
  } else if (current.status === "timeout") {
    await deliverLate(ctx, current, taskId, requestId);
    return;
  }
  // KIE calls back when a task has ended, but its record can lag behind: look now, and again
  // shortly, rather than waiting for the callback grace period to end.
  for (const delayMs of recheckDelays) {
    if (!isOpen(current)) return;
    if (delayMs > 0) await sleep(delayMs);
    current = await lookAfterCallback(ctx, current, taskId);
  }
}

/**
 * A callback for a job we gave up on: a success is still delivered (free; apply() attaches it).
 * KIE's record is read on the re-check schedule until it shows the task ended: one failed read
 * must not lose a paid image.
 */
async function deliverLate(ctx: GenerationContext, job: Generation, taskId: string, requestId: string) {
  for (const delayMs of [0, ...CALLBACK_RECHECK_DELAYS_MS]) {
    if (delayMs > 0) await sleep(delayMs);
    try {
      const record = await ctx.provider.readTask(taskId, { requestId });
      if (record.state === "succeeded") await apply(ctx, job, record);
      if (record.state === "succeeded" || record.state === "failed") return;
    } catch (error) {
      ctx.logger.warn(
        { jobId: job.id, taskId, err: error },
        "could not read a timed-out job's task; will retry",
      );
    }
  }
  ctx.logger.warn(
    { jobId: job.id, taskId },
    "KIE never showed the timed-out job's task ended; result not attached",
  );
}

/**
 * createTask failed ambiguously: attach the callback's task only if KIE's own record of it
 * carries this job's callBackUrl (a forged body cannot make us adopt someone else's task). A
 * record KIE has not written yet ("recordInfo is null") or a failed read is tried again on the
 * re-check schedule: giving up would lose a paid image.
 */
async function adoptTask(
  ctx: GenerationContext,
  job: Generation,
  taskId: string,
  token: string,
  requestId: string,
): Promise<Generation | undefined> {
  for (const delayMs of [0, ...CALLBACK_RECHECK_DELAYS_MS]) {
    if (delayMs > 0) await sleep(delayMs);
    let record: ProviderTask;
    try {
      record = await ctx.provider.readTask(taskId, { requestId });
    } catch (error) {
      ctx.logger.warn(
        { jobId: job.id, taskId, err: error },
        "could not read the callback's task; will retry",
      );
      continue;
    }
    if (record.state === "unrecorded" && !record.callBackUrl) continue; // not written yet
    if (!namesThisJob(record.callBackUrl, job.id, token)) {
      ctx.logger.warn({ jobId: job.id, taskId }, "callback task does not belong to this job; ignored");
      return undefined;
    }
    if (await attachKieTask(ctx.db, job.id, taskId)) return apply(ctx, { ...job, kieTaskId: taskId }, record);
    // Lost the race with create()'s own attach (the callback came before it): if that attached
    // this very task, the callback's news is still ours to apply.
    const current = await reread(ctx, job);
    return current.kieTaskId === taskId ? apply(ctx, current, record) : undefined;
  }
  ctx.logger.warn({ jobId: job.id, taskId }, "KIE never showed the callback's task; left to the reconciler");
  return undefined;
}

/**
 * One look at KIE for a callback. If another path holds the refresh lease, its read may predate
 * the news this callback brings: look again as soon as the lease ends (DESIGN.md §5).
 */
async function lookAfterCallback(
  ctx: GenerationContext,
  job: Generation,
  taskId: string,
): Promise<Generation> {
  let current = job;
  for (let attempt = 0; attempt < 3; attempt++) {
    current = await reread(ctx, current);
    if (!isOpen(current)) return current;
    if (await claimRefreshLease(ctx.db, current.id, CALLBACK_LEASE_MS)) {
      return readAndApply(ctx, current, taskId);
    }
    const leaseEnds = (current.refreshedAt?.getTime() ?? ctx.now()) + CALLBACK_LEASE_MS;
    await sleep(Math.min(CALLBACK_LEASE_MS, Math.max(0, leaseEnds - ctx.now())) + LEASE_MARGIN_MS);
  }
  return current;
}

function signatureValid(
  ctx: GenerationContext,
  taskId: string,
  timestamp?: string | null,
  signature?: string | null,
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(ctx.now() - Number(timestamp) * 1000) > WEBHOOK_MAX_SKEW_MS) return false;
  const expected = createHmac("sha256", ctx.settings.webhookHmacKey as string)
    .update(`${taskId}.${timestamp}`)
    .digest("base64");
  return secretsEqual(signature, expected);
}

/** The callBackUrl given to KIE for a job: names the job and carries its secret token. */
export function callbackUrl(appUrl: string, jobId: string, token: string): string {
  const url = new URL(CALLBACK_PATH, `${appUrl}/`);
  url.searchParams.set("job", jobId);
  url.searchParams.set("token", token);
  return url.toString();
}

/** Whether a callBackUrl KIE recorded is this job's (compared by its parameters, not its spelling). */
function namesThisJob(callBackUrl: string | undefined, jobId: string, token: string): boolean {
  if (!callBackUrl || !URL.canParse(callBackUrl)) return false;
  const params = new URL(callBackUrl).searchParams;
  return params.get("job") === jobId && secretsEqual(params.get("token") ?? "", token);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
