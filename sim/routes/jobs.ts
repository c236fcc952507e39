/** `POST /api/v1/jobs/createTask` and `GET /api/v1/jobs/recordInfo` (kie-api.md "Jobs"). */
import { accountOf } from "../auth";
import { parsePromptDirectives } from "../directives";
import { KieSimFaultSyntaxError } from "../faults";
import {
  KIE_ENVELOPE,
  type Reply,
  type RequestContext,
  type Route,
  readJson,
  standardMessage,
  withHeaders,
} from "../http";
import { InputValidationError, validateCreateTask } from "../models";
import type { Refusal } from "../rateLimit";
import type { NewTask } from "../tasks";

/** The body checked against the model table and the prompt's directives parsed, or the refusal. */
function validate(body: unknown): NewTask | { error: Reply } {
  try {
    const validated = validateCreateTask(body);
    return { ...validated, body, directives: parsePromptDirectives(validated.input.prompt) };
  } catch (error) {
    if (error instanceof InputValidationError)
      return { error: KIE_ENVELOPE.error(error.code, error.message) };
    if (error instanceof KieSimFaultSyntaxError) return { error: KIE_ENVELOPE.error(422, error.message) };
    throw error;
  }
}

/** KIE's 429: rejected, not queued; Retry-After only when the limit sends one. */
function tooMany(ctx: RequestContext, refusal: Refusal): Reply {
  ctx.sim.stats.rateLimited += 1;
  const reply = KIE_ENVELOPE.httpError(429, standardMessage(429));
  const seconds = refusal.retryAfterSeconds;
  return seconds === undefined ? reply : withHeaders(reply, { "retry-after": String(seconds) });
}

async function createTask(ctx: RequestContext): Promise<Reply> {
  const { sim } = ctx;
  const parsed = await readJson(ctx);
  if (parsed.error) return parsed.error;

  const account = accountOf(ctx);
  const refusal = sim.limits.createTask.check(account);
  if (refusal) return tooMany(ctx, refusal);
  const task = validate(parsed.body);
  if ("error" in task) return task.error;
  if (sim.credits < task.input.credits) return KIE_ENVELOPE.error(402, standardMessage(402));
  sim.limits.createTask.record(account);
  // The `fail-task` fault: this task fails as if its prompt said [sim:fail=<msg>].
  if (ctx.failTask) task.directives = { ...task.directives, fail: ctx.failTask };
  // `[sim:fail-once]`: the first task with this prompt (per account) fails, later ones succeed.
  const once = task.directives.failOnce;
  const onceKey = `${account}\n${task.input.prompt}`;
  if (once && !sim.failedOnce.has(onceKey)) {
    sim.failedOnce.add(onceKey);
    task.directives = { ...task.directives, fail: once };
  }
  const created = sim.engine.create(task);
  sim.stats.tasksCreated += 1;
  return KIE_ENVELOPE.ok({ taskId: created.record.taskId });
}

async function recordInfo(ctx: RequestContext): Promise<Reply> {
  const account = accountOf(ctx);
  const refusal = ctx.sim.limits.recordInfo.check(account);
  if (refusal) return tooMany(ctx, refusal);
  ctx.sim.limits.recordInfo.record(account);
  const taskId = ctx.url.searchParams.get("taskId")?.trim();
  if (!taskId) return KIE_ENVELOPE.error(422, "taskId is required");
  const task = ctx.sim.tasks.get(taskId);
  if (!task) return KIE_ENVELOPE.error(404, `Task not found: ${taskId}`);
  if (Date.now() < task.visibleAt) return KIE_ENVELOPE.error(422, "recordInfo is null");
  return KIE_ENVELOPE.ok({ ...task.record });
}

export const JOB_ROUTES: Record<string, Route> = {
  "/api/v1/jobs/createTask": {
    method: "POST",
    endpoint: "createTask",
    envelope: KIE_ENVELOPE,
    handle: createTask,
  },
  "/api/v1/jobs/recordInfo": {
    method: "GET",
    endpoint: "recordInfo",
    envelope: KIE_ENVELOPE,
    handle: recordInfo,
  },
};
