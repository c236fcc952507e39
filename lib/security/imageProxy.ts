/**
 * Fetches an image for GET /api/image-proxy (DESIGN.md §6), framework-free: the URL and every
 * redirect are checked before a connection is made, the connection itself refuses private
 * addresses (urlGuard), nothing of the caller's request is forwarded, time and bytes are capped,
 * and only PNG, JPEG and WebP (by magic bytes) are passed on.
 *
 * GIF is refused like everything else: the product shows generated and uploaded images, which are
 * PNG, JPEG or WebP, and one accepted set for uploads and the proxy is easier to reason about.
 */
import { type Dispatcher, request } from "undici";
import { ProxyUpstreamError, UnsafeUrlError, UnsupportedMediaTypeError } from "./errors";
import { type AcceptedImageType, SNIFF_BYTES, sniffImageType } from "./mediaType";
import { checkProxyUrl, createGuardedDispatcher, type ProxyUrlPolicy } from "./urlGuard";

export const PROXY_DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
export const PROXY_DEFAULT_TIMEOUT_MS = 15_000;
export const PROXY_DEFAULT_MAX_REDIRECTS = 3;

/**
 * Every header the proxy sends: no cookie, no authorization, no referer, nothing of the caller's.
 * `identity` because images are compressed already, and a compressed body would make
 * Content-Length say nothing about the bytes we will stream.
 */
export const PROXY_REQUEST_HEADERS: Readonly<Record<string, string>> = {
  accept: "image/png,image/jpeg,image/webp;q=0.9",
  "accept-encoding": "identity",
  "user-agent": "NanoBananaStudio-ImageProxy/1.0",
};

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface FetchProxiedImageOptions extends ProxyUrlPolicy {
  /** Cap on the image's bytes; default 20 MiB. */
  maxBytes?: number;
  /** Cap on the whole fetch, redirects and streaming included; default 15 s. */
  timeoutMs?: number;
  /** Default 3. */
  maxRedirects?: number;
  /** The caller gave up (the browser went away): stop fetching. */
  signal?: AbortSignal;
  /**
   * Must be a createGuardedDispatcher() with the same trustedOrigin. Default: a new one for this
   * call, closed when the body is done.
   */
  dispatcher?: Dispatcher;
}

export interface ProxiedImage {
  /** The image's bytes; errors with ProxyUpstreamError if the byte or time cap is hit mid-way. */
  body: ReadableStream<Uint8Array>;
  /** By magic bytes, not by the upstream's Content-Type. */
  contentType: AcceptedImageType;
  /** The upstream's Content-Length, when it declared one. */
  contentLength?: number;
}

/**
 * Resolves once the image's first bytes have been sniffed; the rest streams through `body`.
 *
 * Throws UnsafeUrlError (refused URL, redirect target or resolved address; no request is made for
 * a refused URL), ProxyUpstreamError (non-2xx, network, timeout, too large, too many redirects) or
 * UnsupportedMediaTypeError (not PNG/JPEG/WebP).
 */
export async function fetchProxiedImage(
  rawUrl: string,
  options: FetchProxiedImageOptions,
): Promise<ProxiedImage> {
  const policy: ProxyUrlPolicy = { allowedHosts: options.allowedHosts, trustedOrigin: options.trustedOrigin };
  const maxBytes = options.maxBytes ?? PROXY_DEFAULT_MAX_BYTES;
  const firstUrl = checkProxyUrl(rawUrl, policy);
  options.signal?.throwIfAborted();

  const call = openCall(options);
  try {
    const response = await followRedirects(
      firstUrl,
      policy,
      options.maxRedirects ?? PROXY_DEFAULT_MAX_REDIRECTS,
      call,
    );
    if (response.statusCode < 200 || response.statusCode > 299) {
      discard(response.body);
      throw new ProxyUpstreamError("status", { status: response.statusCode });
    }
    const contentLength = declaredLength(response.headers);
    if (contentLength !== undefined && contentLength > maxBytes) {
      discard(response.body);
      throw new ProxyUpstreamError("too_large", { detail: `Content-Length ${contentLength}` });
    }

    const reader = chunkReader(response.body);
    let head: Uint8Array;
    let contentType: AcceptedImageType;
    try {
      head = await readHead(reader, SNIFF_BYTES, maxBytes);
      contentType = await sniffImageType(head);
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw call.failure(error);
    }
    return { body: streamRest(reader, head, maxBytes, call), contentType, contentLength };
  } catch (error) {
    call.release(true);
    throw error;
  }
}

/** One fetch's resources: its dispatcher (ours to close unless given), its time cap and the caller's abort. */
interface ProxyCall {
  dispatcher: Dispatcher;
  signal: AbortSignal;
  /** Frees everything once; `failed` destroys our own dispatcher instead of closing it. */
  release(failed: boolean): void;
  /** What to throw for an error from the request or the body (upstreamFailure). */
  failure(error: unknown): unknown;
}

function openCall(options: FetchProxiedImageOptions): ProxyCall {
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher = options.dispatcher ?? createGuardedDispatcher({ trustedOrigin: options.trustedOrigin });
  const abort = new AbortController();
  const timeoutMs = options.timeoutMs ?? PROXY_DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => abort.abort(new ProxyUpstreamError("timeout")), timeoutMs);
  const onCallerAbort = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onCallerAbort, { once: true });
  let released = false;
  return {
    dispatcher,
    signal: abort.signal,
    release(failed) {
      if (released) return;
      released = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onCallerAbort);
      if (ownsDispatcher) void (failed ? dispatcher.destroy() : dispatcher.close()).catch(() => {});
    },
    failure: (error) => upstreamFailure(error, abort.signal),
  };
}

/**
 * GETs the URL, following at most `maxRedirects` redirects, each target checked like the first
 * URL: a redirect to http, an IP or another host is refused. The final answer, whatever its status.
 */
async function followRedirects(
  firstUrl: URL,
  policy: ProxyUrlPolicy,
  maxRedirects: number,
  call: ProxyCall,
): Promise<Dispatcher.ResponseData> {
  let url = firstUrl;
  for (let redirects = 0; ; redirects++) {
    let response: Dispatcher.ResponseData;
    try {
      // undici.request, not fetch: fetch copies every chunk into a new Uint8Array, which doubles the
      // garbage a 10 MiB copy leaves for the GC (docs/BENCHMARKS.md, "Storage"). It never follows
      // redirects itself, and sends only the headers given.
      response = await request(url, {
        method: "GET",
        headers: PROXY_REQUEST_HEADERS,
        signal: call.signal,
        dispatcher: call.dispatcher,
      });
    } catch (error) {
      throw call.failure(error);
    }
    if (!REDIRECT_STATUSES.has(response.statusCode)) return response;
    discard(response.body);
    if (redirects >= maxRedirects) throw new ProxyUpstreamError("too_many_redirects");
    const location = headerOf(response.headers, "location");
    if (!location) throw new ProxyUpstreamError("bad_redirect");
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new ProxyUpstreamError("bad_redirect", { detail: location.slice(0, 200) });
    }
    url = checkProxyUrl(next.href, policy);
  }
}

/** The image's bytes: the sniffed head, then the rest as it arrives, capped at `maxBytes` in all. */
function streamRest(reader: ChunkReader, head: Uint8Array, maxBytes: number, call: ProxyCall) {
  let received = head.byteLength;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.byteLength > 0) controller.enqueue(head);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          call.release(false);
          controller.close();
          return;
        }
        received += value.byteLength;
        if (received > maxBytes) throw new ProxyUpstreamError("too_large");
        controller.enqueue(value);
      } catch (error) {
        const mapped = call.failure(error);
        await reader.cancel(mapped).catch(() => {});
        call.release(true);
        controller.error(mapped);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
      call.release(true);
    },
  });
}

interface ChunkReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** A pull-style reader over undici's body stream: each chunk as it came off the socket, no copy. */
function chunkReader(body: Dispatcher.ResponseData["body"]): ChunkReader {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  return {
    read: async () => {
      const next = await chunks.next();
      return next.done ? { done: true } : { done: false, value: next.value };
    },
    cancel: async () => {
      await chunks.return?.();
    },
  };
}

/** Closes a body we will not read; undici reports that as an "aborted" error nobody needs. */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => {});
  body.destroy();
}

/** Reads until `wanted` bytes or the end; errors past `maxBytes` (a head can be one huge chunk). */
async function readHead(reader: ChunkReader, wanted: number, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < wanted) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    if (length > maxBytes) throw new ProxyUpstreamError("too_large");
  }
  const head = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    head.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return head;
}

type ResponseHeaders = Dispatcher.ResponseData["headers"];

function headerOf(headers: ResponseHeaders, name: string): string | null {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function declaredLength(headers: ResponseHeaders): number | undefined {
  const encoding = headerOf(headers, "content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") return undefined;
  const value = headerOf(headers, "content-length");
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

/**
 * What to throw for an error from fetch or the body: our time cap, the caller's abort (as is), a
 * refusal by the guarded dispatcher (the `cause` of fetch's TypeError), our own errors, or a
 * network failure.
 */
function upstreamFailure(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (
    error instanceof ProxyUpstreamError ||
    error instanceof UnsafeUrlError ||
    error instanceof UnsupportedMediaTypeError
  ) {
    return error;
  }
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    if (cause instanceof UnsafeUrlError) return cause;
    cause = cause.cause;
  }
  return new ProxyUpstreamError("network", { cause: error });
}
