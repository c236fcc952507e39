/**
 * What a failed HTTP exchange with KIE means: a NetworkError that says whether the request could
 * have reached KIE (`sent`), with a copy of the low-level cause that holds no secret.
 */
import type { KieEndpoint } from "./codes";
import { NetworkError } from "./errors";
import { sanitizeKieText } from "./sanitize";

/** Connection errors that happen before a single byte of the request is written. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

export interface CallContext {
  endpoint: KieEndpoint;
  requestId: string;
  taskId?: string;
}

/** The NetworkError for a fetch that failed without an answer (neither a timeout nor an abort). */
export function toNetworkError(
  error: unknown,
  context: CallContext,
  secrets: readonly string[],
): NetworkError {
  const networkCode = networkCodeOf(error);
  return new NetworkError({
    ...context,
    sent: !(networkCode !== undefined && NOT_SENT_CODES.has(networkCode)),
    networkCode,
    cause: safeCause(error, secrets),
  });
}

function networkCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const candidate = current as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof candidate.code === "string") return candidate.code;
    // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
    if (Array.isArray(candidate.errors) && candidate.errors.length > 0) {
      const codes = candidate.errors.map(networkCodeOf);
      if (codes.every((c) => c !== undefined && NOT_SENT_CODES.has(c))) return codes[0];
      return codes.find((c) => c !== undefined);
    }
    current = candidate.cause;
  }
  return undefined;
}

/** A copy of a low-level error that keeps its name, code and message, minus any secret. */
function safeCause(error: unknown, secrets: readonly string[]): Error {
  const source = error as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  const inner = source?.cause as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  const copy = new Error(sanitizeKieText(String(source?.message ?? error), secrets) ?? "network error", {
    cause: inner
      ? Object.assign(new Error(sanitizeKieText(String(inner.message ?? ""), secrets) ?? ""), {
          name: typeof inner.name === "string" ? inner.name : "Error",
          code: typeof inner.code === "string" ? inner.code : undefined,
        })
      : undefined,
  });
  copy.name = typeof source?.name === "string" ? source.name : "Error";
  if (typeof source?.code === "string") Object.assign(copy, { code: source.code });
  return copy;
}
