/**
 * What a person reads when something goes wrong: one plain sentence per §3 error code, with the
 * numbers that help (balance, limit, seconds to wait). Never a stack, a request id or raw JSON.
 */
import type { Job } from "./types";

export interface ProblemLike {
  code: string;
  message?: string;
  status?: number;
  retryAfterSeconds?: number;
}

export interface MessageContext {
  balance?: number;
  cost?: number;
  maxUploadMiB?: number;
}

const NOT_CHARGED = "You were not charged.";

function credits(n: number): string {
  return n === 1 ? "1 credit" : `${n} credits`;
}

function seconds(n: number): string {
  return n === 1 ? "1 second" : `${n} seconds`;
}

/** A request the server refused (an ApiProblem) in plain words. */
export function problemMessage(problem: ProblemLike, context: MessageContext = {}): string {
  switch (problem.code) {
    case "insufficient_credits": {
      const cost = context.cost ?? 1;
      const balance = context.balance;
      return balance === undefined
        ? `Not enough credits: this image costs ${credits(cost)}. ${NOT_CHARGED}`
        : `Not enough credits: this image costs ${credits(cost)} and your balance is ${balance}. ${NOT_CHARGED}`;
    }
    case "invalid_request":
      return problem.message?.startsWith("The request is invalid: prompt") || !problem.message
        ? "The prompt is empty or too long. Write between 1 and 5,000 characters."
        : `${sanitize(problem.message)} ${NOT_CHARGED}`;
    case "file_too_large":
      return context.maxUploadMiB
        ? `A file is too large: each image can be at most ${context.maxUploadMiB} MB. ${NOT_CHARGED}`
        : `A file is larger than the upload limit. ${NOT_CHARGED}`;
    case "request_timeout":
      return `The upload stopped before it was complete. ${NOT_CHARGED} Check your connection and try again.`;
    case "unsupported_media_type":
      return `That file type is not supported: use PNG, JPEG or WebP images. ${NOT_CHARGED}`;
    case "generation_failed":
      return `The model refused or could not make this image${detail(problem.message)}. ${NOT_CHARGED}`;
    case "rate_limited":
      return problem.retryAfterSeconds
        ? `Too many requests right now. Wait ${seconds(problem.retryAfterSeconds)} and try again.`
        : "Too many requests right now. Wait a few seconds and try again.";
    case "upstream_timeout":
      return "This image is taking longer than usual. It is still working — it will appear in History.";
    case "upstream_error":
      return `The image service is not available right now. ${NOT_CHARGED} Try again in a minute.`;
    case "unauthorized":
      return "Your session has ended. Sign in again to continue.";
    case "idempotency_key_in_progress":
      return "This request is already being processed.";
    case "network_error":
      return "Cannot reach the server. Check your connection and try again.";
    case "service_unavailable":
      return "The service is starting up. Try again in a few seconds.";
    default:
      return "Something went wrong on our side. Try again in a minute.";
  }
}

/** A job that ended without an image, in plain words. */
export function failedJobMessage(job: Pick<Job, "status" | "error">): string {
  if (job.status === "timeout" || job.error?.code === "upstream_timeout") {
    return `The image took too long and was cancelled. ${NOT_CHARGED}`;
  }
  if (job.error?.code === "upstream_error") {
    return `The image service had a problem with this image. ${NOT_CHARGED} Try again.`;
  }
  return `The model refused or could not make this image${detail(job.error?.message)}. ${NOT_CHARGED}`;
}

/** KIE's failMsg can carry anything: one short line of text, no markup, no JSON. */
function sanitize(text: string): string {
  const line = text
    .replace(/<[^>]*>/g, "")
    .replace(/[{}[\]<>`]/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return line.length > 200 ? `${line.slice(0, 197)}…` : line;
}

function detail(message: string | undefined): string {
  if (!message) return "";
  const cleaned = sanitize(message.replace(/^The image could not be generated:?\s*/i, "")).replace(/\.$/, "");
  return cleaned ? `: ${cleaned}` : "";
}
