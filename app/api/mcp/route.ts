import { createMcpHandler } from "mcp-handler";
import { type RouteContext, route } from "@/app/_lib/route";
import * as credits from "@/app/api/credits/route";
import * as generateStatus from "@/app/api/generate/[taskId]/route";
import * as generate from "@/app/api/generate/route";
import * as generations from "@/app/api/generations/route";
import * as images from "@/app/api/images/[id]/route";
import type { App } from "@/lib/app";
import { type AuthUser, bearerToken, UnauthorizedError } from "@/lib/auth";
import { publicCatalog } from "@/lib/catalog";
import { readBytes } from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";
import { errorResponse } from "@/lib/http/route";
import { acceptedOnMcp, mcpChallenge, publicOrigin } from "@/lib/mcp/auth";
import { batchRefusal, isJsonRpcBatch } from "@/lib/mcp/batch";
import { type ApiPort, registerTools } from "@/lib/mcp/tools";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** A JSON-RPC message is small: a tool's arguments, never an image (references are URLs or ids). */
const MCP_BODY_LIMIT = 256 * 1024;
const HOP_BY_HOP = ["connection", "content-length", "keep-alive", "transfer-encoding"];

type Handler = (request: Request, segment: { params: Promise<never> }) => Promise<Response>;

/** The API routes a tool may call, as Next's router maps them. */
const ROUTES: [RegExp, "GET" | "POST", Handler, string?][] = [
  [/^\/api\/generate$/, "POST", generate.POST as Handler],
  [/^\/api\/generate\/([^/]+)$/, "GET", generateStatus.GET as Handler, "taskId"],
  [/^\/api\/generations$/, "GET", generations.GET as Handler],
  [/^\/api\/credits$/, "GET", credits.GET as Handler],
  [/^\/api\/images\/([^/]+)$/, "GET", images.GET as Handler, "id"],
];

/**
 * The tools' way into the API: the route handlers themselves, called in-process with the MCP
 * request's own credential, address and request id — the same checks, limits, charge and answers.
 */
function apiPort(outer: Request, requestId: string): ApiPort {
  return async (method, path, init = {}) => {
    const url = new URL(path, outer.url);
    const match = ROUTES.find(([pattern, m]) => m === method && pattern.test(url.pathname));
    if (!match)
      return Response.json({ success: false, error: { code: "not_found", message: "" } }, { status: 404 });
    const [pattern, , handler, param] = match;
    const value = pattern.exec(url.pathname)?.[1];
    const headers = new Headers();
    for (const name of ["authorization", "host", "x-forwarded-for", "x-real-ip", "user-agent"]) {
      const header = outer.headers.get(name);
      if (header) headers.set(name, header);
    }
    headers.set("x-request-id", requestId);
    for (const [name, header] of Object.entries(init.headers ?? {})) {
      // A tool argument sent as a header (idempotencyKey) with a control character cannot be one:
      // answered as the API answers a bad header, not as a thrown TypeError's text.
      if (!isHeaderValue(header)) {
        return errorResponse(new ApiError("invalid_request", `${name} must be printable ASCII.`), requestId);
      }
      headers.set(name, header);
    }
    if (init.body !== undefined) headers.set("content-type", "application/json");
    const request = new Request(url, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: outer.signal,
    });
    const params = param && value ? { [param]: decodeURIComponent(value) } : {};
    return handler(request, { params: Promise.resolve(params) as Promise<never> });
  };
}

/** What Headers.set takes (RFC 9110 field-value): no NUL, CR or LF, nothing past U+00FF. */
function isHeaderValue(value: string): boolean {
  return !/[\0\r\n\u0100-\uffff]/.test(value);
}

/** 401 with the challenge that sends an MCP client to the protected-resource metadata. */
async function authenticate(request: Request, app: App, origin: string, requestId: string) {
  try {
    if (!bearerToken(request.headers.get("authorization"))) throw new UnauthorizedError("missing_token");
    const user = await app.auth.authenticate(request);
    if (!acceptedOnMcp(user)) throw new UnauthorizedError("invalid_token", "a session token on /api/mcp");
    return { user };
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    const refusal = errorResponse(error, requestId);
    refusal.headers.set("WWW-Authenticate", mcpChallenge(origin));
    return { refusal };
  }
}

/**
 * /api/mcp — the MCP server (Streamable HTTP, stateless: any instance answers; DESIGN.md §3
 * "MCP"). Bearer only: a personal API key or an OAuth access token; tools act as that user.
 */
async function serveMcp({ request, app, requestId }: RouteContext<Record<string, never>>): Promise<Response> {
  const origin = publicOrigin(request, app.config.appUrl);
  const { user, refusal } = await authenticate(request, app, origin, requestId);
  if (refusal) return refusal;
  // A key's requests count against the key (the authenticator did it); an OAuth token's count
  // against its user and client alike, the same API_KEY_RATE_LIMIT_PER_MINUTE (429 beyond).
  const signedIn = user as AuthUser;
  if (signedIn.apiKeyId === undefined)
    await app.rateLimiter.consumeApiKey(`oauth:${signedIn.id}:${signedIn.clientId}`);
  const body =
    request.method === "POST" ? new Uint8Array(await readBytes(request, MCP_BODY_LIMIT)) : undefined;
  if (body && isJsonRpcBatch(body)) return batchRefusal();
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  const inner = new Request(request.url, { method: request.method, headers, body, signal: request.signal });
  Object.assign(inner, { auth: authInfo(request, user as AuthUser) });
  const models = publicCatalog(
    { perGeneration: app.config.credits.perGeneration, byModel: app.config.credits.byModel },
    app.config.maxUploadBytes,
  );
  const handler = createMcpHandler(
    (server) => registerTools(server, { api: apiPort(request, requestId), origin, models }),
    { serverInfo: { name: "nano-banana-studio", version: "1.0.0" }, maxSubscriptions: 0, telemetry: false },
  );
  return handler(inner);
}

function authInfo(request: Request, user: AuthUser) {
  return {
    token: bearerToken(request.headers.get("authorization")) ?? "",
    clientId: user.clientId ?? `api-key:${user.apiKeyId}`,
    scopes: [],
    extra: { userId: user.id },
  };
}

export const POST = route("mcp", serveMcp);
export const GET = route("mcp", serveMcp);
export const DELETE = route("mcp", serveMcp);
