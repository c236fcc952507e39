import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DRAIN_MAX_BYTES, mediaTypeOf, readJson, requireMediaType, settleUnreadBody } from "@/lib/http/body";
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
  /** A body of `total` bytes in 64 KiB chunks that counts what was pulled from it. */
  function metered(total: number) {
    const meter = { pulled: 0 };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (meter.pulled >= total) return controller.close();
        const chunk = new Uint8Array(Math.min(64 * 1024, total - meter.pulled));
        meter.pulled += chunk.byteLength;
        controller.enqueue(chunk);
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
});
