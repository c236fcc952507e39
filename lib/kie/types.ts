/** What a caller of the KIE client passes with each call, and what it can observe. */
import type { KieEndpoint } from "./codes";

export interface KieCallOptions {
  /** Our request id: sent as X-Request-Id and put on every log line and error. */
  requestId: string;
  /** Aborting stops the call at once (no further requests) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export type KieCallStatus = number | "timeout" | "network_error" | "aborted";

export type KieClientEvent =
  | {
      type: "call";
      endpoint: KieEndpoint;
      /** HTTP status, or what happened instead of a response. */
      status: KieCallStatus;
      /** The envelope's `code`, when the body had one. */
      code?: number;
      durationMs: number;
      /** 0 for the first try. */
      attempt: number;
    }
  | { type: "retry"; endpoint: KieEndpoint; attempt: number; delayMs: number; reason: string };

/** The subset of a pino logger the client uses. */
export interface KieLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
