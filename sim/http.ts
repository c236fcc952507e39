/**
 * The simulator's HTTP vocabulary: a Reply (status, headers, bytes), KIE's JSON envelopes (the
 * upload endpoints add `success` beside `code`), the request context a route handler gets, and the
 * exchange that writes a reply back (throttled, HEAD-aware).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KieSimEndpoint } from "./faults";
import { readBody, writeBody } from "./net";
import type { SimState } from "./state";

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export const JSON_BODY_LIMIT = 1024 * 1024;

export function jsonReply(status: number, body: unknown): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: Buffer.from(JSON.stringify(body)),
  };
}

/** The same reply with these headers added. */
export function withHeaders(reply: Reply, headers: Record<string, string>): Reply {
  return { ...reply, headers: { ...reply.headers, ...headers } };
}

/** The `msg` KIE sends with each error code (wording from KIE's docs, lightly normalized). */
const STANDARD_MESSAGES: Record<number, string> = {
  400: "Bad request",
  401: "You do not have access permissions",
  402: "The current credits are insufficient. Please top up.",
  404: "Not found",
  405: "Method not allowed",
  408: "Upstream gave no result for over 10 minutes",
  422: "Validation error",
  429: "Rate limited: too many requests, please try again later",
  433: "Sub-key usage limit reached",
  455: "Service unavailable: the system is under maintenance",
  500: "Server error, please try again later",
  501: "Generation failed",
  502: "Bad gateway",
  503: "Service unavailable",
  505: "Feature disabled",
};

export function standardMessage(code: number): string {
  return STANDARD_MESSAGES[code] ?? `Error ${code}`;
}

/** KIE's `{code, msg, data}` answers, in one endpoint family's shape. */
export interface Envelope {
  /** HTTP 200, code 200. */
  ok(data: unknown, msg?: string): Reply;
  /** HTTP 200 with the error code in the body: KIE's usual way. */
  error(code: number, msg: string): Reply;
  /** HTTP `status` with the same code in the body. */
  httpError(status: number, msg: string): Reply;
}

function envelope(upload: boolean): Envelope {
  const reply = (code: number, body: { msg: string; data: unknown; status: number }) =>
    jsonReply(
      body.status,
      upload
        ? { success: code === 200, code, msg: body.msg, data: body.data }
        : { code, msg: body.msg, data: body.data },
    );
  return {
    ok: (data, msg = "success") => reply(200, { msg, data, status: 200 }),
    error: (code, msg) => reply(code, { msg, data: null, status: 200 }),
    httpError: (status, msg) => reply(status, { msg, data: null, status }),
  };
}

/** `{code, msg, data}`: jobs, download-url, credit, and every error outside a route. */
export const KIE_ENVELOPE = envelope(false);
/** `{success, code, msg, data}`: the three upload endpoints. */
export const UPLOAD_ENVELOPE = envelope(true);

/** What a route handler gets for one request. */
export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  sim: SimState;
  /** The route's envelope. */
  reply: Envelope;
  /** Read the body and write the answer at this rate (the `slow=` fault). */
  bytesPerSecond?: number;
  /** createTask: the task ends as `fail` (the `fail-task` fault). */
  failTask?: { message?: string };
}

export interface Route {
  method: "GET" | "POST";
  endpoint: KieSimEndpoint;
  envelope: Envelope;
  handle(ctx: RequestContext): Promise<Reply>;
}

/** The request body as JSON; a body that is not JSON answers code 400 in the route's envelope. */
export async function readJson(
  ctx: RequestContext,
  maxBytes = JSON_BODY_LIMIT,
): Promise<{ body: unknown; error?: undefined } | { error: Reply }> {
  const raw = await readBody(ctx.req, {
    maxBytes,
    bytesPerSecond: ctx.bytesPerSecond,
    signal: ctx.sim.signal,
  });
  try {
    return { body: JSON.parse(raw.toString("utf8")) as unknown };
  } catch {
    return { error: ctx.reply.error(400, "request body must be valid JSON") };
  }
}

/** One request and its response. */
export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Aborted when the simulator closes: a throttled write stops. */
  private readonly signal: AbortSignal;

  constructor(options: { req: IncomingMessage; res: ServerResponse; signal: AbortSignal }) {
    ({ req: this.req, res: this.res, signal: this.signal } = options);
  }

  /** Writes the whole reply (at `bytesPerSecond` when given); no body for HEAD. */
  async write(reply: Reply, bytesPerSecond?: number): Promise<void> {
    const { res } = this;
    if (res.destroyed) return;
    res.writeHead(reply.status, { ...reply.headers, "content-length": String(reply.body.length) });
    if (this.req.method === "HEAD") {
      res.end();
      return;
    }
    await writeBody(res, { body: reply.body, bytesPerSecond, signal: this.signal });
  }
}
