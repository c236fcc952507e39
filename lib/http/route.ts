/**
 * The one wrapper every route handler goes through: request id in and out, the app instance, a
 * child logger, timing, and the error table (errors.ts) turning any throw into DESIGN.md §3's
 * JSON error shape. Handlers stay thin: parse → call lib → map.
 */
import { type App, getApp } from "@/lib/app";
import type { Logger } from "@/lib/observability/logger";
import { withRequestId } from "@/lib/observability/requestContext";
import { assertSameOrigin } from "./csrf";
import { ApiError, classifyError } from "./errors";
import { requestIdFrom } from "./requestId";
import { commonSecurityHeaders } from "./securityHeaders";

export interface RouteContext<Params> {
  request: Request;
  requestId: string;
  app: App;
  log: Logger;
  params: Params;
}

type Handler<Params> = (context: RouteContext<Params>) => Promise<Response>;

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

export function route<Params = Record<string, never>>(name: string, handler: Handler<Params>) {
  return async (request: Request, segment?: { params?: Promise<Params> }): Promise<Response> => {
    const requestId = requestIdFrom(request);
    const started = performance.now();
    let app: App;
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
    app: App,
    request: Request,
    requestId: string,
    segment: { params?: Promise<Params> } | undefined,
    started: number,
  ): Promise<Response> {
    const log = app.logger.child({ route: name });
    let response: Response;
    try {
      // Before anything else about the request: a forged one gets 403 with nothing done.
      assertSameOrigin(request, app.config.appUrl);
      const params = ((await segment?.params) ?? {}) as Params;
      response = await handler({ request, requestId, app, log, params });
    } catch (error) {
      response = errorResponse(error, requestId, log);
    }
    response.headers.set("X-Request-Id", requestId);
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
