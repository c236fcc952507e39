/**
 * Byte-level I/O for the simulator: capped and optionally throttled request bodies, throttled
 * answers, and capped outbound fetches (image_urls, fileUrl).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** Waits at least `ms` by Date.now() (Node timers may fire a millisecond early); rejects on abort. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) await delay(deadline - Date.now(), undefined, { signal });
}

/**
 * Reads a request body. Past `maxBytes` the rest is drained and thrown away (so the client reads
 * the error answer instead of a broken pipe), up to a hard limit after which the socket is closed.
 * With `bytesPerSecond`, reading pauses so the client's upload is held to that rate.
 */
export async function readBody(
  req: IncomingMessage,
  options: { maxBytes: number; bytesPerSecond?: number; signal?: AbortSignal },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const started = Date.now();
  const hardLimit = options.maxBytes * 4 + 1024 * 1024;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total <= options.maxBytes) chunks.push(chunk);
    else if (total > hardLimit) {
      req.destroy();
      throw new BodyTooLargeError(options.maxBytes);
    }
    if (options.bytesPerSecond) {
      const due = (total / options.bytesPerSecond) * 1000 - (Date.now() - started);
      await sleep(due, options.signal);
    }
  }
  if (total > options.maxBytes) throw new BodyTooLargeError(options.maxBytes);
  return Buffer.concat(chunks);
}

/** Writes a whole answer, in slices at `bytesPerSecond` when given. */
export async function writeBody(
  res: ServerResponse,
  body: Buffer,
  options: { bytesPerSecond?: number; signal?: AbortSignal } = {},
): Promise<void> {
  if (!options.bytesPerSecond) {
    res.end(body);
    return;
  }
  const slice = Math.max(1, Math.floor(options.bytesPerSecond / 10));
  const started = Date.now();
  for (let offset = 0; offset < body.length; offset += slice) {
    if (res.destroyed) return;
    res.write(body.subarray(offset, offset + slice));
    const sent = Math.min(body.length, offset + slice);
    await sleep((sent / options.bytesPerSecond) * 1000 - (Date.now() - started), options.signal);
  }
  res.end();
}

export class FetchError extends Error {
  constructor(
    message: string,
    /** True when the source answered (an HTTP error, too big); false for network errors and timeouts. */
    readonly answered: boolean,
  ) {
    super(message);
    this.name = "FetchError";
  }
}

/** GETs a URL with a time limit and a size cap; follows redirects. */
export async function fetchBytes(
  url: string,
  options: { timeoutMs: number; maxBytes: number; signal?: AbortSignal },
): Promise<{ bytes: Buffer; contentType?: string }> {
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: "follow", headers: { "user-agent": "kie-sim" } });
  } catch (error) {
    throw new FetchError(describeFetchFailure(error, options.timeoutMs), false);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new FetchError(`HTTP ${response.status}`, true);
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > options.maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new FetchError(`larger than ${options.maxBytes} bytes`, true);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > options.maxBytes) {
          await response.body.cancel().catch(() => {});
          throw new FetchError(`larger than ${options.maxBytes} bytes`, true);
        }
        chunks.push(Buffer.from(chunk));
      }
    }
  } catch (error) {
    if (error instanceof FetchError) throw error;
    throw new FetchError(describeFetchFailure(error, options.timeoutMs), false);
  }
  return { bytes: Buffer.concat(chunks), contentType: response.headers.get("content-type") ?? undefined };
}

function describeFetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no complete answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
}
