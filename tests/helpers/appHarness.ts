/**
 * Drives the real route handlers in-process, against a real kie-sim and a real database (in-memory
 * PGlite, or a throwaway Postgres database when TEST_DATABASE_URL is set). Optionally serves them
 * over HTTP on 127.0.0.1 so the simulator can deliver callbacks (APP_URL).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { afterAll, beforeAll } from "vitest";
import * as resourceMetadata from "@/app/.well-known/oauth-protected-resource/route";
import * as authDev from "@/app/api/auth/dev/route";
import * as authSignout from "@/app/api/auth/signout/route";
import * as credits from "@/app/api/credits/route";
import * as cronReconcile from "@/app/api/cron/reconcile/route";
import * as generateStatus from "@/app/api/generate/[taskId]/route";
import * as generateKie from "@/app/api/generate/kie/route";
import * as generate from "@/app/api/generate/route";
import * as generationsDelete from "@/app/api/generations/[taskId]/route";
import * as generations from "@/app/api/generations/route";
import * as health from "@/app/api/health/route";
import * as imageProxy from "@/app/api/image-proxy/route";
import * as images from "@/app/api/images/[id]/route";
import * as keyRevoke from "@/app/api/keys/[id]/route";
import * as keys from "@/app/api/keys/route";
import * as kieCallback from "@/app/api/kie/callback/route";
import * as mcp from "@/app/api/mcp/route";
import * as me from "@/app/api/me/route";
import * as metrics from "@/app/api/metrics/route";
import * as models from "@/app/api/models/route";
import * as openapi from "@/app/api/openapi.json/route";
import { loadConfig } from "@/config";
import { type App, createApp, installApp } from "@/lib/app";
import type { Database } from "@/lib/db";
import { createLogger } from "@/lib/observability/logger";
import { type KieSimOptions, type RunningKieSim, startKieSim } from "@/sim/server";
import { type AnswerChecker, createAnswerChecker } from "./openapiCheck";

type Handler = (request: Request, segment: { params: Promise<never> }) => Promise<Response>;
type RouteModule = Partial<Record<"GET" | "POST" | "DELETE", Handler>>;

/** Path patterns → route modules, as Next.js's app router maps them (static segments first). */
const ROUTES: [RegExp, RouteModule, string[]][] = [
  [/^\/api\/generate$/, generate, []],
  [/^\/api\/generate\/kie$/, generateKie, []],
  [/^\/api\/generate\/([^/]+)$/, generateStatus, ["taskId"]],
  [/^\/api\/generations$/, generations, []],
  [/^\/api\/generations\/([^/]+)$/, generationsDelete, ["taskId"]],
  [/^\/api\/credits$/, credits, []],
  [/^\/api\/auth\/dev$/, authDev, []],
  [/^\/api\/auth\/signout$/, authSignout, []],
  [/^\/api\/me$/, me, []],
  [/^\/api\/keys$/, keys, []],
  [/^\/api\/mcp$/, mcp, []],
  [/^\/\.well-known\/oauth-protected-resource$/, resourceMetadata, []],
  [/^\/api\/keys\/([^/]+)$/, keyRevoke, ["id"]],
  [/^\/api\/health$/, health, []],
  [/^\/api\/image-proxy$/, imageProxy, []],
  [/^\/api\/images\/([^/]+)$/, images, ["id"]],
  [/^\/api\/kie\/callback$/, kieCallback, []],
  [/^\/api\/metrics$/, metrics, []],
  [/^\/api\/models$/, models, []],
  [/^\/api\/openapi\.json$/, openapi, []],
  [/^\/api\/cron\/reconcile$/, cronReconcile, []],
];

export interface HarnessOptions {
  /** The database the app uses (from tests/helpers/database.ts); not closed by the harness. */
  database: Database;
  /** Extra environment for config.ts (e.g. KIE_POLL_BUDGET_MS, CREDITS_INITIAL). */
  env?: Record<string, string>;
  /** kie-sim options; fast defaults (small steps, small images). */
  sim?: KieSimOptions;
  /**
   * Serve the handlers over HTTP on 127.0.0.1 (bodies streamed in, as by `next start`) and set
   * APP_URL to it, so KIE callbacks reach the app and tests can hold real connections.
   */
  callbacks?: boolean;
}

export interface Harness {
  app: App;
  sim: RunningKieSim;
  /** Base URL of the HTTP server (only with `callbacks`). */
  url?: string;
  /** Every log line the app wrote, as text. */
  logs(): string;
  /** Calls a route handler as Next.js would. `path` may carry a query string. */
  fetch(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  /** Dev sign-in: a fresh user (CREDITS_INITIAL credits) and their access token. */
  signIn(email?: string): Promise<{ token: string; userId: string }>;
  close(): Promise<void>;
}

let counter = 0;

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const sim = await startKieSim({
    stepMs: 40,
    recordDelayMs: 20,
    imageScale: 0.125,
    logger: false,
    ...options.sim,
  });
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-harness-"));
  let logText = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });

  let server: Server | undefined;
  let url: string | undefined;
  if (options.callbacks) {
    server = createServer((req, res) => void serve(req, res));
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }

  const config = loadConfig({
    DATA_DIR: dataDir,
    KIE_BASE_URL: sim.url,
    KIE_UPLOAD_BASE_URL: sim.url,
    LOG_LEVEL: "debug",
    // Creates go straight to KIE unless a test is about KIE's create budget (then it sets its own):
    // with the budget on, a test's burst of creates would wait in the line (docs/JOBS.md).
    KIE_CREATE_LIMIT: "off",
    ...(url && { APP_URL: url }),
    ...options.env,
  });
  const app = await createApp(config, {
    database: options.database,
    // No simulatorOrigin: like `npm start` with an external `npm run sim`, the app trusts the
    // simulator KIE_BASE_URL names (DESIGN.md §6), and none when KIE_API_KEY is set.
    logger: createLogger({ level: "debug", destination: sink }),
  });
  installApp(app);

  // Every answer a route gives in these tests must match the published document.
  let checkAnswer: AnswerChecker | undefined;
  const answerProblems: Error[] = [];
  async function checked(request: Request, response: Response): Promise<Response> {
    checkAnswer ??= createAnswerChecker(
      await (await routeResponse(new Request("http://localhost/api/openapi.json"))).json(),
    );
    await checkAnswer(request.method, request.url, response);
    return response;
  }

  async function dispatch(request: Request): Promise<Response> {
    // Route handlers find the app through getApp() as they start (synchronously, below): with
    // several harnesses in one process (instances sharing a database), each serves its own app.
    installApp(app);
    const response = await routeResponse(request);
    return response.headers.get("x-harness") === "no-route" ? response : checked(request, response);
  }

  async function routeResponse(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    for (const [pattern, module, names] of ROUTES) {
      const match = pattern.exec(pathname);
      if (!match) continue;
      // Like `next start`: a route without a HEAD of its own answers HEAD with its GET handler.
      const method = request.method === "HEAD" ? "GET" : request.method;
      const handler = module[method as "GET" | "POST" | "DELETE"];
      if (!handler) return new Response(null, { status: 405, headers: { "x-harness": "no-route" } });
      const params = Object.fromEntries(
        names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]),
      );
      return handler(request, { params: Promise.resolve(params) as Promise<never> });
    }
    return new Response(null, { status: 404, headers: { "x-harness": "no-route" } });
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The body streams in as it arrives, as under `next start`: a route that refuses early, or
    // gives up on a body that stopped arriving, answers before the client has sent it all.
    const streamed = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`${url}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: streamed ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      duplex: "half",
    } as RequestInit);
    const response = await dispatch(request).catch((error: Error) => {
      answerProblems.push(error);
      return new Response(null, { status: 500 });
    });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  }

  const harness: Harness = {
    app,
    sim,
    url,
    logs: () => logText,
    fetch: (target, init = {}) => {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return dispatch(new Request(`http://localhost${target}`, { ...rest, headers }));
    },
    signIn: async (email = `user${++counter}-${Date.now()}@example.com`) => {
      const response = await harness.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email }),
      });
      if (response.status !== 200)
        throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
      const body = (await response.json()) as { accessToken: string; user: { id: string } };
      return { token: body.accessToken, userId: body.user.id };
    },
    close: async () => {
      installApp(undefined);
      await app.close();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
      // An answer served over HTTP (to the simulator's callbacks) that broke the document.
      if (answerProblems.length > 0) throw answerProblems[0];
    },
  };
  return harness;
}

/**
 * The usual lifecycle in one line: a harness started before the enclosing block's tests (options
 * are read then, so `getDb()` works) and closed after them.
 *
 *   const h = useHarness(() => ({ database: getDb() }));
 *   it("…", async () => { const { token } = await h.signIn(); … });
 *
 * `h` stands for the harness the block's beforeAll started: using it outside a test throws.
 */
export function useHarness(options: () => HarnessOptions): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await startHarness(options());
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as Harness, {
    get(_target, property) {
      if (!current) throw new Error("useHarness: the harness exists only while the block's tests run");
      return Reflect.get(current, property);
    },
  });
}
