/**
 * Byte-level I/O for the simulator: capped and optionally throttled request bodies and throttled
 * answers. Outbound fetches (image_urls, fileUrl) are in fetchGuard.ts.
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
  options: { body: Buffer; bytesPerSecond?: number; signal?: AbortSignal },
): Promise<void> {
  const { body } = options;
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
