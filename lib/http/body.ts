/**
 * Request bodies, read as a stream with a running byte count (DESIGN.md §3 "Requests"): a body is
 * refused with 413 the moment it passes its route's limit, chunked or not, and is never buffered
 * whole first. Before any byte is read, a cookie request with an unsafe method must come from this
 * app's own origin (csrf.ts), and a POST must say its type.
 */
import type { z } from "zod";
import { ApiError } from "./errors";

export const DEFAULT_JSON_LIMIT_BYTES = 64 * 1024;

/**
 * After an answer given before the body was read to its end, a remainder up to this size (by
 * Content-Length) is read and dropped, so that the keep-alive connection is left clean for the
 * client's next request; a larger or unknown remainder (chunked) closes the connection instead.
 * 64 MiB covers the largest legitimate body (five files at the upload limit) with room to spare.
 */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** A drain that takes longer than this (a client that stalls) gives up and drops the connection. */
const DRAIN_MAX_MS = 30_000;

/** Requests whose body was read to its end: nothing is left on their connection. */
const readToEnd = new WeakSet<Request>();

function tooLarge(maxBytes: number): ApiError {
  return new ApiError("file_too_large", `The request body is larger than ${maxBytes} bytes.`);
}

/**
 * A body that sends nothing for this long is given up (408) unless the route sets its own
 * (UPLOAD_IDLE_TIMEOUT_MS for POST /api/generate): a client that stops mid-body holds a slot, a
 * socket and maybe a spool until Node's 300 s request timeout otherwise.
 */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 30_000;

/** Requests given up on (idle): their connection is closed after the answer, never drained. */
const givenUp = new WeakSet<Request>();

export interface BodyReadOptions {
  /** No byte for this long → 408 request_timeout (DEFAULT_BODY_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
}

/**
 * The body's chunks, refusing (413) as soon as more than `maxBytes` arrived or were announced by
 * Content-Length, and (408) once no byte came for the idle timeout. On refusal the rest is left
 * unread here: the answer goes out while the client is still sending, and the connection is not
 * reset under it (cancelling would destroy the socket); the route wrapper then drains it or
 * closes the connection (settleUnreadBody).
 */
export async function* bodyChunks(
  request: Request,
  maxBytes: number,
  { idleTimeoutMs = DEFAULT_BODY_IDLE_TIMEOUT_MS }: BodyReadOptions = {},
): AsyncGenerator<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) {
    readToEnd.add(request);
    return;
  }
  const reader = request.body.getReader();
  let total = 0;
  try {
    for (;;) {
      const step = await readWithin(reader, idleTimeoutMs, request);
      if (step.done) {
        readToEnd.add(request);
        return;
      }
      total += step.value.byteLength;
      if (total > maxBytes) throw tooLarge(maxBytes);
      yield step.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** One read, or 408 after `idleTimeoutMs` without a byte (the request is then closed, not drained). */
async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
  request: Request,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<"idle">((resolve) => {
    timer = setTimeout(() => resolve("idle"), idleTimeoutMs);
  });
  try {
    const step = await Promise.race([reader.read(), idle]);
    if (step === "idle") {
      givenUp.add(request);
      throw new ApiError(
        "request_timeout",
        `No part of the request body arrived for ${Math.round(idleTimeoutMs / 1000)} s. Nothing was charged; send it again.`,
      );
    }
    return step;
  } catch (cause) {
    if (cause instanceof ApiError) throw cause;
    throw new ApiError("invalid_request", "The request body could not be read.", { cause });
  } finally {
    clearTimeout(timer);
  }
}

/** The whole body as bytes, at most `maxBytes` (413 beyond). */
export async function readBytes(
  request: Request,
  maxBytes: number,
  options: BodyReadOptions = {},
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bodyChunks(request, maxBytes, options)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The media type of a request's Content-Type, lower-cased, without parameters ("" when absent). */
export function mediaTypeOf(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** 415 unless the body is declared as one of `accepted` (DESIGN.md §3). */
export function requireMediaType(request: Request, accepted: readonly string[]): string {
  const type = mediaTypeOf(request);
  if (!accepted.includes(type)) {
    throw new ApiError(
      "unsupported_media_type",
      `Send the request body as ${accepted.join(" or ")} (Content-Type).`,
    );
  }
  return type;
}

/**
 * Reads a JSON body of at most `maxBytes` and validates it with `schema`. A body not declared as
 * application/json is 415; a body that is too large 413, malformed JSON or a schema violation 400
 * — all before any work is done.
 */
export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  {
    maxBytes = DEFAULT_JSON_LIMIT_BYTES,
    anyMediaType = false,
    idleTimeoutMs,
  }: BodyReadOptions & {
    maxBytes?: number;
    /** Server-to-server bodies (KIE's callback, checked by its token first) whose type we do not control. */
    anyMediaType?: boolean;
  } = {},
): Promise<z.infer<S>> {
  if (!anyMediaType) requireMediaType(request, ["application/json"]);
  const bytes = await readBytes(request, maxBytes, { idleTimeoutMs });
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ApiError("invalid_request", "The request body is not valid JSON.");
  }
  return schema.parse(value);
}

/**
 * Once the answer is decided, what to do with a body the handler did not read to its end (an
 * early 401/403/413/415/429, or a route that reads none): "drain" — it is read and dropped in the
 * background, bounded in bytes and time, and the connection stays usable; "close" — too much or
 * an unknown amount is left, so the answer must carry `Connection: close` (the server then ends
 * the socket once the answer is flushed). Left half-read and open, the client's next request on
 * that connection would wait behind the rest of this body until the server reset it.
 */
export function settleUnreadBody(request: Request): "none" | "drain" | "close" {
  if (!request.body || readToEnd.has(request)) return "none";
  // A client that stopped sending would stall a drain too: its connection is closed at once.
  if (givenUp.has(request)) return "close";
  if (request.body.locked) return "none";
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (!Number.isFinite(declared) || declared > DRAIN_MAX_BYTES) return "close";
  void drain(request.body);
  return "drain";
}

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  // Giving up cancels the stream, which ends the connection: bounded, and never half-read.
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), DRAIN_MAX_MS);
  timer.unref();
  let total = 0;
  try {
    for (let step = await reader.read(); !step.done; step = await reader.read()) {
      total += step.value.byteLength;
      // Node's parser ends the body at its Content-Length; a Request built otherwise may not.
      if (total > DRAIN_MAX_BYTES) return void (await reader.cancel());
    }
  } catch {
    // The client went away: nothing left to keep clean.
  } finally {
    clearTimeout(timer);
  }
}
