/**
 * The one wrapper every route handler goes through: request id in and out, the app instance, a
 * child logger, timing, and the error table (errors.ts) turning any throw into DESIGN.md §3's
 * JSON error shape. Handlers stay thin: parse → call lib → map.
 */
import { containsApiKey } from "@/lib/auth";
import type { Logger } from "@/lib/observability/logger";
import type { HttpRequestObservation } from "@/lib/observability/metrics";
import { withRequestId } from "@/lib/observability/requestContext";
import { settleUnreadBody } from "./body";
import { assertSameOrigin } from "./csrf";
import { ApiError, classifyError } from "./errors";
import { isForeignHost } from "./rebinding";
import { requestIdFrom } from "./requestId";
import { commonSecurityHeaders } from "./securityHeaders";

/** What the wrapper itself needs of the app; handlers get the whole app (`A`). */
export interface RouteApp {
  logger: Logger;
  config: { appUrl?: string; auth: { mode: "dev" | "supabase" } };
  metrics: { observeHttpRequest(observation: HttpRequestObservation): void };
}

export interface RouteContext<Params, A extends RouteApp = RouteApp> {
  request: Request;
  requestId: string;
  app: A;
  log: Logger;
  params: Params;
}

type Handler<Params, A extends RouteApp> = (context: RouteContext<Params, A>) => Promise<Response>;

/** Below this, gzip costs the server more CPU than it saves bytes (measured, docs/BENCHMARKS.md). */
const COMPRESS_FROM_BYTES = 1024;

/**
 * JSON answer that is never cached by a browser or proxy (every answer here is per-user). Next.js
 * gzips every route handler's answer (it drops Content-Length, so its 1 KiB threshold never
 * applies); `no-transform` on a small answer is the one signal its compression honours.
 */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const text = JSON.stringify(body);
  const response = new Response(text, { status, headers });
  response.headers.set("Content-Type", "application/json");
  response.headers.set(
    "Cache-Control",
    text.length < COMPRESS_FROM_BYTES ? "no-store, no-transform" : "no-store",
  );
  return response;
}

/** The §3 JSON error answer for any thrown error (also used to store a failed idempotent request). */
export function errorResponse(error: unknown, requestId: string, log?: Logger): Response {
  const classified = classifyError(error);
  log?.[classified.logLevel](
    { err: error, code: classified.code, status: classified.status },
    "request failed",
  );
  const headers: Record<string, string> = {};
  if (classified.retryAfterSeconds !== undefined)
    headers["Retry-After"] = String(classified.retryAfterSeconds);
  return json(
    {
      success: false,
      error: {
        code: classified.code,
        message: classified.message,
        requestId,
        ...(classified.retryAfterSeconds !== undefined && {
          retryAfterSeconds: classified.retryAfterSeconds,
        }),
        ...(classified.taskId !== undefined && { taskId: classified.taskId }),
      },
    },
    classified.status,
    headers,
  );
}

/**
 * Makes the `route()` wrapper for an app source: app/_lib/route.ts wires it to lib/app.ts's
 * getApp, so lib/http never imports the composition root (docs/ARCHITECTURE.md), and a test can
 * wrap a handler around an app of its own.
 */
export function createRoute<A extends RouteApp>(getApp: () => Promise<A>) {
  return function route<Params = Record<string, never>>(name: string, handler: Handler<Params, A>) {
    return wrap(getApp, name, handler);
  };
}

function wrap<Params, A extends RouteApp>(
  getApp: () => Promise<A>,
  name: string,
  handler: Handler<Params, A>,
) {
  return async (request: Request, segment?: { params?: Promise<Params> }): Promise<Response> => {
    const requestId = requestIdFrom(request);
    const started = performance.now();
    let app: A;
    try {
      app = await getApp();
    } catch (error) {
      console.error(
        `[${requestId}] the app could not start:`,
        error instanceof Error ? error.message : error,
      );
      const response = errorResponse(new ApiError("service_unavailable"), requestId);
      response.headers.set("X-Request-Id", requestId);
      response.headers.set("X-Content-Type-Options", "nosniff");
      return response;
    }
    return withRequestId(requestId, () => serve(app, request, requestId, segment, started));
  };

  async function serve(
    app: A,
    request: Request,
    requestId: string,
    segment: { params?: Promise<Params> } | undefined,
    started: number,
  ): Promise<Response> {
    const log = app.logger.child({ route: name });
    let response: Response;
    try {
      // Before anything else about the request: a forged one gets 403 with nothing done.
      if (app.config.auth.mode === "dev" && isForeignHost(request, app.config.appUrl)) {
        throw new ApiError(
          "forbidden",
          "This server answers only its own host names while dev sign-in is on.",
        );
      }
      assertSameOrigin(request, app.config.appUrl);
      assertNoKeyInUrl(request);
      const params = ((await segment?.params) ?? {}) as Params;
      response = await handler({ request, requestId, app, log, params });
    } catch (error) {
      response = errorResponse(error, requestId, log);
    }
    // `next start` answers HEAD with the GET handler and never reads nor cancels its body: an
    // image's open file (or an upstream fetch) would stay held until a garbage collection.
    if (request.method === "HEAD") response = await withoutBody(response);
    response.headers.set("X-Request-Id", requestId);
    // An early answer leaves the body unread: drained, or the connection is closed (body.ts).
    if (settleUnreadBody(request) === "close") response.headers.set("Connection", "close");
    for (const [header, value] of Object.entries(commonSecurityHeaders(app.config.appUrl))) {
      response.headers.set(header, value);
    }
    const elapsedMs = performance.now() - started;
    app.metrics.observeHttpRequest({
      route: name,
      method: request.method,
      status: response.status,
      durationMs: elapsedMs,
    });
    log.info(
      { method: request.method, status: response.status, elapsedMs: Math.round(elapsedMs) },
      "request",
    );
    return response;
  }
}

/**
 * A personal API key in a URL (`?key=nbk_…`) ends up in proxies' and browsers' logs and histories:
 * refused with 400 whatever the route, never used (DESIGN.md §3 "API keys").
 */
function assertNoKeyInUrl(request: Request): void {
  const target = request.url;
  let decoded = target;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    // a malformed escape: the raw URL is checked below all the same
  }
  if (containsApiKey(target) || containsApiKey(decoded)) {
    throw new ApiError(
      "invalid_request",
      "API keys go in the Authorization header (Bearer), never in a URL. Revoke this key: it may be in logs now.",
    );
  }
}

/** The answer's status and headers, its body let go of (RFC 9110 §9.3.2: a HEAD answer has none). */
async function withoutBody(response: Response): Promise<Response> {
  if (response.body === null) return response;
  await response.body.cancel().catch(() => {});
  return new Response(null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
