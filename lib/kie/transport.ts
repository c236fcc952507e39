/**
 * How one KIE call travels, in the style of openai-node's and stripe-node's core clients: `call`
 * is the retry loop; each try is `#send` (one HTTP exchange over undici on a keep-alive pool, with
 * a per-request timeout and the caller's AbortSignal; no answer → TimeoutError or NetworkError)
 * then `#decode` (KIE's envelope → the value, or the error errors.ts's code table names).
 *
 * Retry policy (docs/KIE.md, docs/JOBS.md): idempotent calls (status reads, uploads) retry on
 * 429, 5xx, 455, network errors, timeouts and malformed answers, with full-jitter backoff honouring
 * Retry-After. createTask is a new paid task each time KIE accepts it and has no idempotency key,
 * so it is retried only when KIE provably did not act on it: the connection was refused before
 * anything was sent. Its 429 is not retried here: every createTask KIE sees takes a token from the
 * account's budget first (issue 23), so the caller retries through the budget, not this loop.
 *
 * `beforeAttempt` runs before every HTTP attempt, retries included (the read budget's token):
 * what it throws ends the call with that error, untried.
 */
import { Agent, type Dispatcher, type FormData, fetch } from "undici";
import { fullJitterDelay } from "@/lib/backoff";
import type { KieEndpoint } from "./codes";
import { type KieEnvelope, readEnvelope } from "./dto";
import { errorForCode, KieError, MalformedResponseError, NetworkError, TimeoutError } from "./errors";
import { type CallContext, toNetworkError } from "./network";
import { abortReason, parseRetryAfter, sleep as realSleep, type SleepFn } from "./retry";
import { sanitizeKieText } from "./sanitize";
import type { KieCallOptions, KieCallStatus, KieClientEvent, KieLogger } from "./types";

export interface KieTransportOptions {
  apiKey: string;
  /** One HTTP call, connect to last body byte. Default 30000. */
  requestTimeoutMs?: number;
  /** Default: one keep-alive undici Agent owned by this client (closed by close()). */
  dispatcher?: Dispatcher;
  /** Retries after the first try. Default 3. */
  maxRetries?: number;
  /** Backoff window for the first retry; doubles per retry. Default 500. */
  retryBaseDelayMs?: number;
  /** Largest backoff window. Default 8000. */
  retryMaxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown, carrying it. Default 30000. */
  maxRetryAfterMs?: number;
  logger?: KieLogger;
  onEvent?: (event: KieClientEvent) => void;
  /** Awaited before every HTTP attempt (e.g. a token of KIE's read budget); its error ends the call. */
  beforeAttempt?: (endpoint: KieEndpoint, signal?: AbortSignal) => Promise<void>;
  /** Injectables for tests. */
  random?: () => number;
  sleep?: SleepFn;
  now?: () => number;
}

/** One KIE call, as the endpoint methods describe it. */
export interface CallSpec<T> {
  endpoint: KieEndpoint;
  method: "GET" | "POST";
  url: string;
  /** Built per attempt: a stream-backed body cannot be sent twice. */
  body?: () => { body: string | FormData; contentType?: string };
  idempotent: boolean;
  opts: KieCallOptions;
  taskId?: string;
  /** Reads the data of a success envelope; throw to report a schema mismatch. */
  parse: (envelope: KieEnvelope) => T;
  /** Turns an answer that would be an error into a result (e.g. "recordInfo is null"). */
  rescue?: (envelope: KieEnvelope | undefined, httpStatus: number) => T | undefined;
}

/** What one HTTP exchange gave: an answer, or what happened instead and the error to throw. */
type Sent =
  | { answered: true; status: number; retryAfter: string | null; text: string }
  | { answered: false; status: Exclude<KieCallStatus, number>; error: unknown };

const contextOf = (spec: CallSpec<unknown>): CallContext => ({
  endpoint: spec.endpoint,
  requestId: spec.opts.requestId,
  taskId: spec.taskId,
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class KieTransport {
  readonly #apiKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #requestTimeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #logger?: KieLogger;
  readonly #onEvent?: (event: KieClientEvent) => void;
  readonly #beforeAttempt?: KieTransportOptions["beforeAttempt"];
  readonly #random: () => number;
  readonly #sleep: SleepFn;
  readonly #now: () => number;

  constructor(options: KieTransportOptions) {
    this.#apiKey = options.apiKey;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ?? new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxRetries = Math.max(0, options.maxRetries ?? 3);
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? 8_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.#logger = options.logger;
    this.#onEvent = options.onEvent;
    this.#beforeAttempt = options.beforeAttempt;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? Date.now;
  }

  /** Closes the connection pool this transport created (an injected dispatcher is left alone). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Runs the call, retrying what the policy above allows. */
  async call<T>(spec: CallSpec<T>): Promise<T> {
    const started = this.#now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt(spec, attempt);
      } catch (error) {
        if (!(error instanceof KieError)) throw error;
        if (attempt >= this.#maxRetries || !this.#mayRetry(spec, error)) throw error;
        const delayMs = this.#retryDelay(attempt, error);
        if (delayMs === undefined) throw error;
        const reason = `${error.kind}${error.code !== undefined ? ` ${error.code}` : ""}`;
        this.#onEvent?.({ type: "retry", endpoint: spec.endpoint, attempt: attempt + 1, delayMs, reason });
        this.#logger?.warn(
          {
            requestId: spec.opts.requestId,
            endpoint: spec.endpoint,
            attempt: attempt + 1,
            delayMs,
            reason,
            elapsedMs: this.#now() - started,
          },
          "kie request retry",
        );
        await this.#sleep(delayMs, spec.opts.signal);
      }
    }
  }

  #mayRetry(spec: CallSpec<unknown>, error: KieError): boolean {
    if (spec.idempotent) return error.retryable;
    return error instanceof NetworkError && !error.sent;
  }

  /** The wait before the next try, or undefined when KIE asked for more than we will wait. */
  #retryDelay(attempt: number, error: KieError): number | undefined {
    const drawn = fullJitterDelay(
      attempt,
      { baseMs: this.#retryBaseDelayMs, maxMs: this.#retryMaxDelayMs },
      this.#random,
    );
    if (error.retryAfterMs === undefined) return drawn;
    if (error.retryAfterMs > this.#maxRetryAfterMs) return undefined;
    return Math.max(drawn, error.retryAfterMs);
  }

  /** One try: send, report the call event, decode. */
  async #attempt<T>(spec: CallSpec<T>, attempt: number): Promise<T> {
    const callerSignal = spec.opts.signal;
    if (callerSignal?.aborted) throw abortReason(callerSignal);
    await this.#beforeAttempt?.(spec.endpoint, callerSignal);
    const started = this.#now();
    const emit = (status: KieCallStatus, code?: number) =>
      this.#onEvent?.({
        type: "call",
        endpoint: spec.endpoint,
        status,
        code,
        durationMs: this.#now() - started,
        attempt,
      });

    const sent = await this.#send(spec);
    if (!sent.answered) {
      emit(sent.status);
      throw sent.error;
    }
    const envelope = readEnvelope(parseJson(sent.text));
    emit(sent.status, envelope?.code);
    return this.#decode(spec, sent, envelope);
  }

  /** One HTTP exchange, read to the last byte. Never throws for a failure of the network. */
  async #send(spec: CallSpec<unknown>): Promise<Sent> {
    const callerSignal = spec.opts.signal;
    const timeoutMs = this.#requestTimeoutMs;
    const timeoutSignal = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeoutSignal]) : timeoutSignal;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#apiKey}`,
      "X-Request-Id": spec.opts.requestId,
      Accept: "application/json",
    };
    const payload = spec.body?.();
    if (payload?.contentType) headers["Content-Type"] = payload.contentType;

    try {
      const response = await fetch(spec.url, {
        method: spec.method,
        headers,
        body: payload?.body,
        signal,
        dispatcher: this.#dispatcher,
        redirect: "manual",
      });
      const retryAfter = response.headers.get("retry-after");
      return { answered: true, status: response.status, retryAfter, text: await response.text() };
    } catch (error) {
      if (callerSignal?.aborted)
        return { answered: false, status: "aborted", error: abortReason(callerSignal) };
      const context = contextOf(spec);
      if (timeoutSignal.aborted) {
        const timeout = new TimeoutError({ ...context, timeoutMs });
        return { answered: false, status: "timeout", error: timeout };
      }
      const networkError = toNetworkError(error, context, [this.#apiKey]);
      return { answered: false, status: "network_error", error: networkError };
    }
  }

  /** KIE's answer → the value. HTTP status first, then the body's code (KIE often reports errors inside an HTTP 200). */
  #decode<T>(
    spec: CallSpec<T>,
    answer: Extract<Sent, { answered: true }>,
    envelope: KieEnvelope | undefined,
  ): T {
    const rescued = spec.rescue?.(envelope, answer.status);
    if (rescued !== undefined) return rescued;

    const secrets = [this.#apiKey];
    const failure = {
      ...contextOf(spec),
      httpStatus: answer.status,
      kieMessage: sanitizeKieText(envelope?.msg, secrets),
      retryAfterMs: parseRetryAfter(answer.retryAfter, this.#now()),
    };
    if (answer.status < 200 || answer.status > 299) throw errorForCode(answer.status, failure);
    if (!envelope) {
      throw new MalformedResponseError({
        ...failure,
        message: `KIE ${spec.endpoint}: answer is not KIE's JSON envelope (HTTP ${answer.status}, ${answer.text.length} bytes)`,
      });
    }
    if (envelope.code !== 200) {
      const data = envelope.data as { failCode?: unknown; failMsg?: unknown } | null;
      throw errorForCode(envelope.code, {
        ...failure,
        failCode: typeof data?.failCode === "string" && data.failCode ? data.failCode : undefined,
        failMsg: sanitizeKieText(data?.failMsg, secrets),
      });
    }
    if (envelope.success === false) {
      throw errorForCode(envelope.code, { ...failure, kieMessage: failure.kieMessage ?? "success: false" });
    }
    try {
      return spec.parse(envelope);
    } catch (error) {
      const detail = sanitizeKieText(error instanceof Error ? error.message : String(error), secrets);
      throw new MalformedResponseError({
        ...failure,
        message: `KIE ${spec.endpoint}: unexpected answer shape: ${detail}`,
      });
    }
  }
}
