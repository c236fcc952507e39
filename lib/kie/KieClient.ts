/**
 * The KIE client (kie-api.md): task creation, status reads, uploads, polling and the account
 * balance, over undici with one keep-alive pool per client.
 *
 * Retry policy (DESIGN.md §5): idempotent calls (status reads, uploads, download-url, credit)
 * retry on 429, 5xx, 455, network errors, timeouts and malformed answers, with full-jitter backoff
 * honouring Retry-After. createTask is a new paid task each time KIE accepts it and has no
 * idempotency key, so it is retried only when KIE provably did not act on it: the connection was
 * refused before anything was sent, or KIE answered 429 (rejected, not queued).
 *
 * Too long to hold at once (over 300 lines): splitting transport from decoding and dropping the
 * test-only methods is the redesign issue ("One home per concept"), not yet done.
 */
import { randomUUID } from "node:crypto";
import { Agent, type Dispatcher, FormData, fetch } from "undici";
import {
  type CreateTaskInput,
  createTaskDataSchema,
  isRecordNotYetWritten,
  type KieEnvelope,
  readEnvelope,
  type TaskRecord,
  toCreateTaskBody,
  toTaskRecord,
  toUploadedFile,
  type UploadedFile,
} from "./dto";
import {
  errorForCode,
  type KieEndpoint,
  KieError,
  MalformedResponseError,
  NetworkError,
  RateLimitError,
  sanitizeKieText,
  TimeoutError,
} from "./errors";
import { abortReason, fullJitterDelay, parseRetryAfter, sleep as realSleep, type SleepFn } from "./retry";

// ---------------------------------------------------------------- public types

export interface KieCallOptions {
  /** Our request id: sent as X-Request-Id and put on every log line and error. */
  requestId: string;
  /** Aborting stops the call at once (no further requests) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface GenerateImageOptions extends KieCallOptions {
  /** Where KIE posts the result; omitted → poll only. */
  callBackUrl?: string;
}

export interface GenerateImageResult {
  taskId: string;
  /** The model actually used (e.g. the edit pair of a text-only model given images). */
  model: string;
  /** Things the caller should know, e.g. that randomSeed was not sent. */
  warnings: string[];
}

export interface UploadFileInput {
  /** A Blob is streamed as it is (never read into memory); a Uint8Array is sent from memory. */
  data: Blob | Uint8Array;
  /** Reusing a name overwrites that file at KIE; when absent a unique name is generated. */
  fileName?: string;
  mimeType: string;
}

export interface UploadOptions extends KieCallOptions {
  /** Folder at KIE; defaults to the client's `defaultUploadPath`. */
  uploadPath?: string;
}

export interface IKieClient {
  /** createTask. Never retried blindly: see isAmbiguousCreateFailure for what a failure means. */
  generateImage(input: CreateTaskInput, opts: GenerateImageOptions): Promise<GenerateImageResult>;
  /** recordInfo. A task whose record KIE has not written yet comes back as state "pending". */
  getTaskStatus(taskId: string, opts: KieCallOptions): Promise<TaskRecord>;
  uploadFile(file: UploadFileInput, opts: UploadOptions): Promise<UploadedFile>;
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

export interface KieClientOptions {
  apiKey: string;
  /** e.g. https://api.kie.ai */
  baseUrl: string;
  /** e.g. https://kieai.redpandaai.co */
  uploadBaseUrl: string;
  /** One HTTP call, connect to last body byte. Default 30000. */
  requestTimeoutMs?: number;
  /** Model for requests without images and without a model (config KIE_MODEL). */
  textModel?: string;
  /** Model for requests with images and without a model (config KIE_EDIT_MODEL). */
  editModel?: string;
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
  /** Uint8Array files up to this size go through the base64 endpoint. Default 1 MiB. */
  base64UploadMaxBytes?: number;
  /** Default `uploadPath`. Default "images/user-uploads". */
  defaultUploadPath?: string;
  logger?: KieLogger;
  onEvent?: (event: KieClientEvent) => void;
  /** Injectables for tests. */
  random?: () => number;
  sleep?: SleepFn;
  now?: () => number;
}

// ---------------------------------------------------------------- internals

/** Connection errors that happen before a single byte of the request is written. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
};

interface CallSpec<T> {
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
  timeoutMs?: number;
  maxRetries?: number;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
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

export class KieClient implements IKieClient {
  readonly #apiKey: string;
  readonly #baseUrl: string;
  readonly #uploadBaseUrl: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #requestTimeoutMs: number;
  readonly #textModel: string;
  readonly #editModel: string;
  readonly #maxRetries: number;
  readonly #retryBaseDelayMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #base64UploadMaxBytes: number;
  readonly #defaultUploadPath: string;
  readonly #logger?: KieLogger;
  readonly #onEvent?: (event: KieClientEvent) => void;
  readonly #random: () => number;
  readonly #sleep: SleepFn;
  readonly #now: () => number;

  constructor(options: KieClientOptions) {
    if (!options.apiKey) throw new Error("KieClient: apiKey is required");
    if (!options.baseUrl || !options.uploadBaseUrl)
      throw new Error("KieClient: baseUrl and uploadBaseUrl are required");
    this.#apiKey = options.apiKey;
    this.#baseUrl = trimSlash(options.baseUrl);
    this.#uploadBaseUrl = trimSlash(options.uploadBaseUrl);
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ?? new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#textModel = options.textModel ?? "google/nano-banana";
    this.#editModel = options.editModel ?? "google/nano-banana-edit";
    this.#maxRetries = Math.max(0, options.maxRetries ?? 3);
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? 8_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.#base64UploadMaxBytes = options.base64UploadMaxBytes ?? 1024 * 1024;
    this.#defaultUploadPath = options.defaultUploadPath ?? "images/user-uploads";
    this.#logger = options.logger;
    this.#onEvent = options.onEvent;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? Date.now;
  }

  /** Closes the connection pool this client created (an injected dispatcher is left alone). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async generateImage(input: CreateTaskInput, opts: GenerateImageOptions): Promise<GenerateImageResult> {
    const { body, model, warnings } = toCreateTaskBody(input, {
      textModel: this.#textModel,
      editModel: this.#editModel,
      callBackUrl: opts.callBackUrl,
    });
    const taskId = await this.#call({
      endpoint: "createTask",
      method: "POST",
      url: `${this.#baseUrl}/api/v1/jobs/createTask`,
      body: () => ({ body: JSON.stringify(body), contentType: "application/json" }),
      idempotent: false,
      opts,
      parse: (envelope) => createTaskDataSchema.parse(envelope.data).taskId,
    });
    this.#logger?.info({ requestId: opts.requestId, taskId, model }, "kie task created");
    return { taskId, model, warnings };
  }

  getTaskStatus(taskId: string, opts: KieCallOptions): Promise<TaskRecord> {
    return this.#readTask(taskId, opts, {});
  }

  async uploadFile(file: UploadFileInput, opts: UploadOptions): Promise<UploadedFile> {
    const uploadPath = opts.uploadPath ?? this.#defaultUploadPath;
    const fileName = file.fileName ?? `${randomUUID()}.${EXTENSIONS[file.mimeType] ?? "bin"}`;
    const parse = (envelope: KieEnvelope) => this.#uploadedFile(envelope);

    if (file.data instanceof Uint8Array && file.data.byteLength <= this.#base64UploadMaxBytes) {
      const base64Data = `data:${file.mimeType};base64,${Buffer.from(file.data).toString("base64")}`;
      const json = JSON.stringify({ base64Data, uploadPath, fileName });
      return this.#call({
        endpoint: "fileBase64Upload",
        method: "POST",
        url: `${this.#uploadBaseUrl}/api/file-base64-upload`,
        body: () => ({ body: json, contentType: "application/json" }),
        idempotent: true,
        opts,
        parse,
      });
    }

    const blob =
      file.data instanceof Uint8Array
        ? new Blob([file.data as Uint8Array<ArrayBuffer>], { type: file.mimeType })
        : file.data.type === file.mimeType
          ? file.data
          : // slice() relabels the type without reading the bytes.
            file.data.slice(0, file.data.size, file.mimeType);
    return this.#call({
      endpoint: "fileStreamUpload",
      method: "POST",
      url: `${this.#uploadBaseUrl}/api/file-stream-upload`,
      body: () => {
        const form = new FormData();
        form.append("file", blob, fileName);
        form.append("uploadPath", uploadPath);
        form.append("fileName", fileName);
        return { body: form };
      },
      idempotent: true,
      opts,
      parse,
    });
  }

  // ---------------------------------------------------------------- internals

  #readTask(
    taskId: string,
    opts: KieCallOptions,
    overrides: { maxRetries?: number; timeoutMs?: number },
  ): Promise<TaskRecord> {
    const secrets = [this.#apiKey];
    return this.#call({
      endpoint: "recordInfo",
      method: "GET",
      url: `${this.#baseUrl}/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(taskId)}`,
      idempotent: true,
      opts,
      taskId,
      ...overrides,
      parse: (envelope) => {
        if (envelope.data === null || typeof envelope.data !== "object") {
          throw new Error("recordInfo answered code 200 without a record");
        }
        return toTaskRecord(envelope.data, { taskId, secrets });
      },
      rescue: (envelope) => {
        if (isRecordNotYetWritten(envelope)) return { taskId, state: "pending", resultUrls: [] };
        // A 501 that carries the task's record is a failed task, reported as data like the others.
        if (envelope?.code === 501 && envelope.data !== null && typeof envelope.data === "object") {
          const record = toTaskRecord(envelope.data, { taskId, secrets });
          return record.state === "unknown" ? { ...record, state: "fail" } : record;
        }
        return undefined;
      },
    });
  }

  #uploadedFile(envelope: KieEnvelope): UploadedFile {
    const file = toUploadedFile(envelope.data);
    if (!file) throw new Error("upload answer names no downloadUrl, fileUrl or url");
    return file;
  }

  async #call<T>(spec: CallSpec<T>): Promise<T> {
    const maxRetries = spec.maxRetries ?? this.#maxRetries;
    const started = this.#now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt(spec, attempt);
      } catch (error) {
        if (!(error instanceof KieError)) throw error;
        if (attempt >= maxRetries || !this.#mayRetry(spec, error)) throw error;
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
    return error instanceof RateLimitError || (error instanceof NetworkError && !error.sent);
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

  async #attempt<T>(spec: CallSpec<T>, attempt: number): Promise<T> {
    const { endpoint, opts } = spec;
    const callerSignal = opts.signal;
    if (callerSignal?.aborted) throw abortReason(callerSignal);
    const timeoutMs = spec.timeoutMs ?? this.#requestTimeoutMs;
    const timeoutSignal = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeoutSignal]) : timeoutSignal;

    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#apiKey}`,
      "X-Request-Id": opts.requestId,
      Accept: "application/json",
    };
    const payload = spec.body?.();
    if (payload?.contentType) headers["Content-Type"] = payload.contentType;

    const started = this.#now();
    const context = { endpoint, requestId: opts.requestId, taskId: spec.taskId };
    const emit = (status: KieCallStatus, code?: number) =>
      this.#onEvent?.({ type: "call", endpoint, status, code, durationMs: this.#now() - started, attempt });

    let httpStatus: number;
    let text: string;
    let retryAfterHeader: string | null;
    try {
      const response = await fetch(spec.url, {
        method: spec.method,
        headers,
        body: payload?.body,
        signal,
        dispatcher: this.#dispatcher,
        redirect: "manual",
      });
      httpStatus = response.status;
      retryAfterHeader = response.headers.get("retry-after");
      text = await response.text();
    } catch (error) {
      if (callerSignal?.aborted) {
        emit("aborted");
        throw abortReason(callerSignal);
      }
      if (timeoutSignal.aborted) {
        emit("timeout");
        throw new TimeoutError({ ...context, scope: "request", timeoutMs });
      }
      emit("network_error");
      const networkCode = networkCodeOf(error);
      throw new NetworkError({
        ...context,
        sent: !(networkCode !== undefined && NOT_SENT_CODES.has(networkCode)),
        networkCode,
        cause: this.#safeCause(error),
      });
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const envelope = readEnvelope(json);
    emit(httpStatus, envelope?.code);

    const rescued = spec.rescue?.(envelope, httpStatus);
    if (rescued !== undefined) return rescued;

    const failure = {
      ...context,
      httpStatus,
      kieMessage: sanitizeKieText(envelope?.msg, [this.#apiKey]),
      retryAfterMs: parseRetryAfter(retryAfterHeader, this.#now()),
    };
    // HTTP status first, then the body's code (KIE often reports errors inside an HTTP 200).
    if (httpStatus < 200 || httpStatus > 299) throw errorForCode(httpStatus, failure);
    if (!envelope) {
      throw new MalformedResponseError({
        ...failure,
        message: `KIE ${endpoint}: answer is not KIE's JSON envelope (HTTP ${httpStatus}, ${text.length} bytes)`,
      });
    }
    if (envelope.code !== 200) {
      const data = envelope.data as { failCode?: unknown; failMsg?: unknown } | null;
      throw errorForCode(envelope.code, {
        ...failure,
        failCode: typeof data?.failCode === "string" && data.failCode ? data.failCode : undefined,
        failMsg: sanitizeKieText(data?.failMsg, [this.#apiKey]),
      });
    }
    if (envelope.success === false) {
      throw errorForCode(envelope.code, { ...failure, kieMessage: failure.kieMessage ?? "success: false" });
    }
    try {
      return spec.parse(envelope);
    } catch (error) {
      throw new MalformedResponseError({
        ...failure,
        message: `KIE ${endpoint}: unexpected answer shape: ${sanitizeKieText(
          error instanceof Error ? error.message : String(error),
          [this.#apiKey],
        )}`,
      });
    }
  }

  /** A copy of a low-level error that keeps its name, code and message, minus any secret. */
  #safeCause(error: unknown): Error {
    const source = error as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
    const inner = source?.cause as { name?: unknown; message?: unknown; code?: unknown } | undefined;
    const copy = new Error(
      sanitizeKieText(String(source?.message ?? error), [this.#apiKey]) ?? "network error",
      {
        cause: inner
          ? Object.assign(new Error(sanitizeKieText(String(inner.message ?? ""), [this.#apiKey]) ?? ""), {
              name: typeof inner.name === "string" ? inner.name : "Error",
              code: typeof inner.code === "string" ? inner.code : undefined,
            })
          : undefined,
      },
    );
    copy.name = typeof source?.name === "string" ? source.name : "Error";
    if (typeof source?.code === "string") Object.assign(copy, { code: source.code });
    return copy;
  }
}
