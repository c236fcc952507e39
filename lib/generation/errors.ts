import { brand } from "@/lib/brand";

/**
 * createTask failed in a way that may still have created the task at KIE (a timeout or reset after
 * sending): the job stays pending for its callback, and the reconciler releases the credits if none
 * comes. The caller learns the job's id so it can follow it.
 */
export class JobInDoubtError extends Error {
  constructor(
    readonly taskId: string,
    options: { cause?: unknown } = {},
  ) {
    super("The image service did not confirm the job; it may still finish.", options);
    this.name = "JobInDoubtError";
  }
}

brand(JobInDoubtError, "generation.JobInDoubtError");
