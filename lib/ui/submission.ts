/**
 * One Idempotency-Key per submission (DESIGN.md §3, §10 "a double click makes one job"): a
 * submission sent again with the same inputs — after a network error the studio says "try
 * again", though the first request may have reached the server — carries the same key, so the
 * server answers with the job it made (if any) instead of making and charging a second one. The
 * key is dropped once the job is accepted; changed inputs are a new submission with a new key.
 */
import type { GenerateInput } from "./api";

/** A submission the server has not (to our knowledge) accepted yet, with its key. */
export interface PendingSubmission {
  key: string;
  input: GenerateInput;
}

/** The submission for `input`: the pending one while its inputs are the same, else a new one. */
export function submissionFor(
  pending: PendingSubmission | undefined,
  input: GenerateInput,
  newKey: () => string = newIdempotencyKey,
): PendingSubmission {
  return pending && sameInput(pending.input, input) ? pending : { key: newKey(), input };
}

/** Same prompt, options and reference files (the very same File objects, in order). */
export function sameInput(a: GenerateInput, b: GenerateInput): boolean {
  return (
    a.prompt === b.prompt &&
    a.model === b.model &&
    a.aspectRatio === b.aspectRatio &&
    a.outputFormat === b.outputFormat &&
    a.resolution === b.resolution &&
    a.googleSearch === b.googleSearch &&
    (a.n ?? 1) === (b.n ?? 1) &&
    a.sourceTaskId === b.sourceTaskId &&
    (a.referenceImageIds ?? []).join() === (b.referenceImageIds ?? []).join() &&
    a.randomSeed === b.randomSeed &&
    a.files.length === b.files.length &&
    a.files.every((file, i) => file === b.files[i]) &&
    (a.urls ?? []).join("\n") === (b.urls ?? []).join("\n")
  );
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}
