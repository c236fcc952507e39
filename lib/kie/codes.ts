/**
 * KIE's error codes (kie-api.md "Envelope"): the kinds of failure, and THE table from a code (an
 * HTTP status, or the `code` of an HTTP 200 body) to its kind, whether a retry may help, and a
 * summary for messages. Data only: lib/kie/errors.ts builds the error classes from it.
 */

/** KIE endpoints, as named in logs and metrics. */
export type KieEndpoint =
  | "createTask"
  | "recordInfo"
  | "credit"
  | "downloadUrl"
  | "fileStreamUpload"
  | "fileBase64Upload"
  | "fileUrlUpload";

export type KieErrorKind =
  | "auth"
  | "rate_limit"
  | "validation"
  | "service"
  | "malformed_response"
  | "timeout"
  | "not_found"
  | "task_failed"
  | "account"
  | "network";

export interface CodeRule {
  kind: Exclude<KieErrorKind, "malformed_response" | "timeout" | "network">;
  retryable: boolean;
  summary: string;
}

/**
 * THE mapping from a KIE code to an error (kie-api.md "Envelope"). Used for the HTTP status first,
 * then for the body `code` of an HTTP 200 answer. Codes not listed fall back by class: other 4xx →
 * validation, other 5xx → retryable service error.
 */
export const KIE_CODE_TABLE: Readonly<Record<number, CodeRule>> = {
  400: { kind: "validation", retryable: false, summary: "bad request" },
  401: { kind: "auth", retryable: false, summary: "API key missing or invalid" },
  402: { kind: "account", retryable: false, summary: "the KIE account has insufficient credits" },
  403: { kind: "auth", retryable: false, summary: "API key not allowed" },
  404: { kind: "not_found", retryable: false, summary: "not found" },
  408: { kind: "service", retryable: false, summary: "KIE gave no result in time" },
  422: { kind: "validation", retryable: false, summary: "parameter validation failed" },
  429: { kind: "rate_limit", retryable: true, summary: "rate limited" },
  433: { kind: "account", retryable: false, summary: "API key usage cap reached" },
  455: { kind: "service", retryable: true, summary: "service unavailable (maintenance)" },
  500: { kind: "service", retryable: true, summary: "server error" },
  501: { kind: "task_failed", retryable: false, summary: "generation failed" },
  505: { kind: "service", retryable: false, summary: "feature disabled" },
};

export function ruleForCode(code: number): CodeRule {
  const known = KIE_CODE_TABLE[code];
  if (known) return known;
  if (code >= 400 && code < 500) return { kind: "validation", retryable: false, summary: "request rejected" };
  if (code >= 500 && code < 600) return { kind: "service", retryable: true, summary: "server error" };
  return { kind: "service", retryable: false, summary: "unexpected response code" };
}
