import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  bodyChunks,
  DRAIN_MAX_BYTES,
  mediaTypeOf,
  readBytes,
  readJson,
  requireMediaType,
  settleUnreadBody,
} from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";

const schema = z.object({ prompt: z.string() });

function post(body: BodyInit | null, headers: Record<string, string> = {}) {
  return new Request("http://localhost/api/generate", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
}

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error & { code?: string };
}

describe("readJson", () => {
  it("parses and validates a body within the limit", async () => {
    expect(await readJson(post('{"prompt":"a banana"}'), schema)).toEqual({ prompt: "a banana" });
  });

  it("accepts exactly maxBytes and refuses one byte more (413), counting bytes not characters", async () => {
    const body = (prompt: string) => JSON.stringify({ prompt });
    const exact = body("é".repeat(10)); // 13 + 20 bytes
    expect(Buffer.byteLength(exact)).toBe(33);
    expect(await readJson(post(exact), schema, { maxBytes: 33 })).toEqual({ prompt: "é".repeat(10) });
    const error = await failure(readJson(post(exact), schema, { maxBytes: 32 }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      code: "file_too_large",
      message: "The request body is larger than 32 bytes.",
    });
  });

  it("refuses by Content-Length before reading the body", async () => {
    const stream = new ReadableStream({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('{"prompt":"x"}'));
        controller.close();
      },
    });
    const request = new Request("http://localhost/", {
      method: "POST",
      body: stream,
      headers: { "content-length": "100", "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    const error = await failure(readJson(request, schema, { maxBytes: 99 }));
    expect(error).toMatchObject({ code: "file_too_large" });
    expect(request.bodyUsed).toBe(false);
    // A declared length at the limit is read.
    const atLimit = post('{"prompt":"x"}', { "content-length": "14" });
    expect(await readJson(atLimit, schema, { maxBytes: 14 })).toEqual({ prompt: "x" });
  });

  it("has a 64 KiB default", async () => {
    const fits = JSON.stringify({ prompt: "a".repeat(64 * 1024 - 13) });
    expect(Buffer.byteLength(fits)).toBe(64 * 1024);
    expect(await readJson(post(fits), schema)).toMatchObject({ prompt: expect.any(String) });
    const over = JSON.stringify({ prompt: "a".repeat(64 * 1024 - 12) });
    expect(await failure(readJson(post(over), schema))).toMatchObject({
      code: "file_too_large",
      message: `The request body is larger than ${64 * 1024} bytes.`,
    });
  });

  it("answers 400 to malformed JSON and to an empty body", async () => {
    for (const text of ["{", "", "prompt=x"]) {
      expect(await failure(readJson(post(text), schema))).toMatchObject({
        code: "invalid_request",
        message: "The request body is not valid JSON.",
      });
    }
  });

  it("answers 400, not a crash, to a POST that has no body at all", async () => {
    const bodiless = new Request("http://localhost/", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    expect(bodiless.body).toBeNull();
    expect(await failure(readJson(bodiless, schema))).toMatchObject({
      code: "invalid_request",
      message: "The request body is not valid JSON.",
    });
    expect(await readBytes(new Request("http://localhost/"), 10)).toEqual(Buffer.alloc(0));
  });

  it("answers 400 when the body cannot be read", async () => {
    const stream = new ReadableStream({
      pull(controller) {
        controller.error(new Error("connection reset"));
      },
    });
    const request = new Request("http://localhost/", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json; charset=utf-8" },
      duplex: "half",
    } as RequestInit);
    const error = await failure(readJson(request, schema));
    expect(error).toMatchObject({ code: "invalid_request", message: "The request body could not be read." });
    expect((error.cause as Error).message).toBe("connection reset");
  });

  it("throws the schema's error for valid JSON of the wrong shape", async () => {
    const error = await failure(readJson(post('{"prompt":3}'), schema));
    expect(error).toBeInstanceOf(z.ZodError);
  });

  it("answers 415 to a body not declared as JSON, unless any type is allowed", async () => {
    for (const type of ["text/plain", "", "application/jsonx"]) {
      const request = new Request("http://localhost/", {
        method: "POST",
        body: '{"prompt":"x"}',
        headers: { "content-type": type },
      });
      expect(await failure(readJson(request, schema))).toMatchObject({ code: "unsupported_media_type" });
    }
    const callback = new Request("http://localhost/", {
      method: "POST",
      body: '{"prompt":"x"}',
      headers: { "content-type": "text/plain" },
    });
    expect(await readJson(callback, schema, { anyMediaType: true })).toEqual({ prompt: "x" });
    const upper = post('{"prompt":"x"}', { "content-type": "Application/JSON ; charset=utf-8" });
    expect(await readJson(upper, schema)).toEqual({ prompt: "x" });
  });
});

describe("requireMediaType and mediaTypeOf", () => {
  const withType = (type?: string) =>
    new Request("http://localhost/", {
      method: "POST",
      body: "x",
      headers: type === undefined ? {} : { "content-type": type },
    });

  it("tells the client which types to send", async () => {
    const error = await failure(
      Promise.resolve().then(() =>
        requireMediaType(withType("text/plain"), ["application/json", "multipart/form-data"]),
      ),
    );
    expect(error.message).toBe(
      "Send the request body as application/json or multipart/form-data (Content-Type).",
    );
  });

  it("reads the media type without parameters, lower-cased; none is the empty string", () => {
    expect(mediaTypeOf(withType(" Multipart/Form-Data; boundary=x"))).toBe("multipart/form-data");
    const none = withType();
    none.headers.delete("content-type"); // a string body gets text/plain by default
    expect(mediaTypeOf(none)).toBe("");
    expect(requireMediaType(none, ["", "application/json"])).toBe("");
  });
});

describe("a body left unread by an early answer (issue 24 item 1)", () => {
  /**
   * A body of `total` bytes in 64 KiB chunks, each sent only when asked for (like a socket that
   * reads no further ahead), that counts what was pulled and says how it ended.
   */
  function metered(total: number) {
    const meter = { pulled: 0, ended: false, cancelled: false };
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (meter.pulled >= total) {
            meter.ended = true;
            return controller.close();
          }
          const chunk = new Uint8Array(Math.min(64 * 1024, total - meter.pulled));
          meter.pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
        cancel() {
          meter.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, meter };
  }
  /** A client that sent its headers and then nothing more. */
  function stalled() {
    const meter = { cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      pull: () => new Promise<void>(() => {}),
      cancel() {
        meter.cancelled = true;
      },
    });
    return { stream, meter };
  }
  const unread = (stream: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
    new Request("http://localhost/api/generate", {
      method: "POST",
      body: stream,
      headers,
      duplex: "half",
    } as RequestInit);

  it("a remainder of known, bounded length is drained to its end, so the connection stays clean", async () => {
    const { stream, meter } = metered(3 * 1024 * 1024);
    const request = unread(stream, { "content-length": String(3 * 1024 * 1024) });
    expect(settleUnreadBody(request)).toBe("drain");
    await expect.poll(() => meter.pulled, { timeout: 5_000 }).toBe(3 * 1024 * 1024);
  });

  it("an unknown (chunked) or too large remainder closes the connection instead, unread", async () => {
    for (const headers of [{}, { "content-length": String(DRAIN_MAX_BYTES + 1) }] as Record<
      string,
      string
    >[]) {
      const { stream, meter } = metered(1024 * 1024);
      expect(settleUnreadBody(unread(stream, headers))).toBe("close");
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(meter.pulled).toBeLessThan(1024 * 1024);
    }
  });

  it("a body read to its end, or none, leaves nothing to do", async () => {
    const read = post('{"prompt":"a banana"}');
    await readJson(read, schema);
    expect(settleUnreadBody(read)).toBe("none");
    expect(settleUnreadBody(new Request("http://localhost/api/credits"))).toBe("none");
  });

  it("a remainder of exactly the cap is drained to its end, not cut (cutting ends the connection)", async () => {
    const { stream, meter } = metered(DRAIN_MAX_BYTES);
    expect(settleUnreadBody(unread(stream, { "content-length": String(DRAIN_MAX_BYTES) }))).toBe("drain");
    await expect.poll(() => meter.ended || meter.cancelled, { timeout: 30_000 }).toBe(true);
    expect(meter).toEqual({ pulled: DRAIN_MAX_BYTES, ended: true, cancelled: false });
  });

  it("the drain reads no more than the cap, even from a body that sends more than it declared", async () => {
    const { stream, meter } = metered(DRAIN_MAX_BYTES + 1024 * 1024);
    expect(settleUnreadBody(unread(stream, { "content-length": "10" }))).toBe("drain");
    await expect.poll(() => meter.cancelled, { timeout: 30_000 }).toBe(true);
    expect(meter.pulled).toBeLessThan(DRAIN_MAX_BYTES + 1024 * 1024);
  });

  describe("with the clock under the test's control", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("a body that stops sending is cut once the drain's time limit has passed", async () => {
      vi.useFakeTimers();
      const { stream, meter } = stalled();
      expect(settleUnreadBody(unread(stream, { "content-length": "1000" }))).toBe("drain");
      await vi.advanceTimersByTimeAsync(30_000);
      expect(meter.cancelled).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("a finished drain leaves no timer behind (every early answer would hold one for the time limit)", async () => {
      vi.useFakeTimers();
      const { stream, meter } = metered(1024);
      expect(settleUnreadBody(unread(stream, { "content-length": "1024" }))).toBe("drain");
      await vi.waitFor(() => expect(meter.ended).toBe(true));
      await vi.waitFor(() => expect(vi.getTimerCount()).toBe(0));
      expect(meter.cancelled).toBe(false);
    });
  });

  it("a body another reader still holds is left to it: no drain is started under it", async () => {
    const { stream, meter } = metered(1024 * 1024);
    const request = unread(stream, { "content-length": String(1024 * 1024) });
    const holder = request.body?.getReader();
    expect(settleUnreadBody(request)).toBe("none");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(meter.pulled).toBe(0);
    holder?.releaseLock();
  });

  it("a body refused midway (413, chunked) still closes the connection; one stopped midway is drained", async () => {
    const big = metered(1024 * 1024);
    const refused = unread(big.stream, { "content-type": "application/json" });
    expect(await failure(readJson(refused, schema, { maxBytes: 100 * 1024 }))).toMatchObject({
      code: "file_too_large",
    });
    expect(settleUnreadBody(refused)).toBe("close");

    const partial = metered(1024 * 1024);
    const stopped = unread(partial.stream, { "content-length": String(1024 * 1024) });
    for await (const _chunk of bodyChunks(stopped, 2 * 1024 * 1024)) break;
    expect(settleUnreadBody(stopped)).toBe("drain");
    await expect.poll(() => partial.meter.pulled, { timeout: 5_000 }).toBe(1024 * 1024);
  });
});

describe("a body that stops arriving (408)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A client that sends `first` (if any), then nothing more, its connection still open. */
  function stalledAfter(first?: string, headers: Record<string, string> = {}) {
    let sent = false;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (first !== undefined && !sent) {
            sent = true;
            controller.enqueue(new TextEncoder().encode(first));
            return;
          }
          return new Promise<void>(() => {});
        },
      },
      { highWaterMark: 0 },
    );
    return new Request("http://localhost/api/generate", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", ...headers },
      duplex: "half",
    } as RequestInit);
  }
  async function settledWithin(promise: Promise<unknown>, ms: number) {
    let outcome: unknown = "pending";
    promise.then(
      (value) => {
        outcome = { value };
      },
      (error: unknown) => {
        outcome = error;
      },
    );
    await vi.advanceTimersByTimeAsync(ms);
    return outcome;
  }

  it("is given up after the route's idle time with a 408 saying so, and its connection is closed, not drained", async () => {
    vi.useFakeTimers();
    const request = stalledAfter('{"prompt":', { "content-length": "1000" });
    const reading = readJson(request, schema, { idleTimeoutMs: 2_000 });
    expect(await settledWithin(reading, 1_999)).toBe("pending");
    const error = await settledWithin(reading, 1);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      code: "request_timeout",
      message: "No part of the request body arrived for 2 s. Nothing was charged; send it again.",
    });
    // A drain would wait on the same silent client: the connection is closed at once instead.
    expect(settleUnreadBody(request)).toBe("close");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("waits 30 s by default, counted from the last byte, not from the start", async () => {
    vi.useFakeTimers();
    const reading = readBytes(stalledAfter(), 1024);
    expect(await settledWithin(reading, 29_999)).toBe("pending");
    expect(await settledWithin(reading, 1)).toMatchObject({
      code: "request_timeout",
      message: "No part of the request body arrived for 30 s. Nothing was charged; send it again.",
    });
  });

  it("a slow body that keeps sending is read to its end, and leaves no timer behind", async () => {
    vi.useFakeTimers();
    const parts = ['{"prompt"', ':"a ', 'banana"}'];
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          const part = parts.shift();
          if (part === undefined) return controller.close();
          controller.enqueue(new TextEncoder().encode(part));
        },
      },
      { highWaterMark: 0 },
    );
    const request = new Request("http://localhost/api/generate", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", "content-length": "26" },
      duplex: "half",
    } as RequestInit);
    // Four reads of 1.5 s each: 6 s in all, more than the 2 s idle time but never 2 s without a byte.
    const outcome = await settledWithin(readJson(request, schema, { idleTimeoutMs: 2_000 }), 6_000);
    expect(outcome).toEqual({ value: { prompt: "a banana" } });
    expect(settleUnreadBody(request)).toBe("none");
    expect(vi.getTimerCount()).toBe(0);
  });
});
