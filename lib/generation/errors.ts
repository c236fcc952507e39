import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";
import type { JobView } from "./view";

/**
 * createTask failed in a way that may still have created the task at KIE (a timeout or reset after
 * sending): the job stays pending for its callback, and the reconciler releases the credits if none
 * comes. The caller learns the job's id so it can follow it.
 */
export class JobInDoubtError extends Error implements HasProblem {
  constructor(
    readonly taskId: string,
    options: { cause?: unknown } = {},
  ) {
    super("The image service did not confirm the job; it may still finish.", options);
    this.name = "JobInDoubtError";
  }

  toProblem(): Problem {
    return {
      code: "upstream_error",
      message:
        "The image service did not confirm the job. It may still finish: check its status with the taskId.",
      taskId: this.taskId,
      logLevel: "error",
    };
  }
}

/**
 * The job exists (and may be paid for) but its answer could not be put together: a database call
 * failed after createTask, or while answering a retry from its job. The client learns the job's
 * id so it can follow it; a same-key retry answers from that job (the key's claim keeps it).
 */
export class JobUnansweredError extends Error implements HasProblem {
  constructor(
    readonly taskId: string,
    options: { cause?: unknown } = {},
  ) {
    super(`Job ${taskId} exists but could not be answered`, options);
    this.name = "JobUnansweredError";
  }

  toProblem(): Problem {
    return {
      code: "internal_error",
      message: "Something went wrong on our side. The job exists: check its status with the taskId.",
      taskId: this.taskId,
      logLevel: "error",
    };
  }
}

/**
 * A retried request (same Idempotency-Key) whose earlier attempt made a job the user has deleted
 * since (with every other job of its batch): nothing is left to answer from, and a new job would
 * charge the same request twice. 404, naming the job.
 */
export class JobDeletedError extends Error implements HasProblem {
  constructor(readonly taskId: string) {
    super(`Job ${taskId} of this request was deleted`);
    this.name = "JobDeletedError";
  }

  toProblem(): Problem {
    return {
      code: "not_found",
      message: "The job this request made has been deleted; nothing new was made or charged.",
      taskId: this.taskId,
      logLevel: "info",
    };
  }
}

/**
 * The request's Idempotency-Key claim was taken over (its lease ended) before its credits were
 * reserved: the request now holding the key answers for it, and a job made here would be a
 * second, charged one for the same key. Nothing is reserved; 409 as for any key in use.
 */
export class IdempotencyClaimLostError extends Error implements HasProblem {
  constructor() {
    super("The Idempotency-Key was taken over by a retry of this request");
    this.name = "IdempotencyClaimLostError";
  }

  toProblem(): Problem {
    return { code: "idempotency_key_in_progress", logLevel: "warn" };
  }
}

/**
 * A sync create whose job did not succeed: it failed, timed out, or was still running when the wait
 * budget ran out (it then carries on: the client follows it by its taskId).
 */
export class JobNotSucceededError extends Error implements HasProblem {
  constructor(
    readonly job: JobView,
    readonly stillRunning: boolean,
  ) {
    super(stillRunning ? `Job ${job.taskId} is still running` : `Job ${job.taskId} ended ${job.status}`);
    this.name = "JobNotSucceededError";
  }

  toProblem(): Problem {
    const { job } = this;
    if (this.stillRunning || job.status === "timeout") {
      return { code: "upstream_timeout", taskId: job.taskId, logLevel: "warn" };
    }
    if (job.error?.code === "generation_failed") {
      // The provider's reason (sanitized when stored) is the user's to read: a refused prompt, say.
      const reason = job.error.message ? `The image could not be generated: ${job.error.message}` : undefined;
      return { code: "generation_failed", message: reason, taskId: job.taskId, logLevel: "info" };
    }
    return { code: "upstream_error", taskId: job.taskId, logLevel: "warn" };
  }
}

brand(IdempotencyClaimLostError, "generation.IdempotencyClaimLostError");
brand(JobDeletedError, "generation.JobDeletedError");
brand(JobInDoubtError, "generation.JobInDoubtError");
brand(JobNotSucceededError, "generation.JobNotSucceededError");
brand(JobUnansweredError, "generation.JobUnansweredError");
