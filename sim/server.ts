/**
 * kie-sim: a standalone HTTP server that speaks KIE's API as docs/KIE.md describes it
 * (jobs, uploads, account), draws real images, sends callbacks and injects faults on demand. It
 * backs the offline demo, CI and load tests; see sim/README.md. It imports nothing from lib/ so
 * the client and the simulator can only agree through the documented wire format.
 *
 * Far too long (over 1000 lines): the stripe-mock split into server.ts (pipeline), routes/ and a
 * control route table is the redesign issue ("One home per concept"), not yet done.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parsePromptDirectives } from "./directives";
import { normalizeFaultRules, parseFaultHeader } from "./faultSyntax";
import {
  type FaultOutcome,
  type FaultRule,
  type FaultSpec,
  KIE_SIM_ENDPOINTS,
  type KieSimEndpoint,
  type KieSimFaultRuleInput,
  KieSimFaultSyntaxError,
  resolveFaults,
} from "./faults";
import { createGuardedAgent, FetchError } from "./fetchGuard";
import { EXTENSION_BY_MIME, MIME_BY_EXTENSION, sniffMimeType } from "./images";
import { InputValidationError, validateCreateTask } from "./models";
import { BodyTooLargeError, readBody, sleep, writeBody } from "./net";
import { Sources } from "./sources";
import { BoundedMap, type StoredBlob } from "./store";
import { type KieRecordData, type KieSimLogger, type SimTask, TaskEngine } from "./tasks";

export type { KieSimEndpoint, KieSimFaultRuleInput } from "./faults";
export { KIE_SIM_ENDPOINTS, KieSimFaultSyntaxError } from "./faults";
export type { KieRecordData, KieSimLogger, KieTaskState } from "./tasks";

export interface KieSimOptions {
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Base of the file and result URLs the sim hands out; default its own address. */
  publicUrl?: string;
  /** When given, only these Bearer keys are accepted; otherwise any non-empty Bearer token. */
  apiKeys?: readonly string[];
  /** Time per state step (waiting → queuing → generating → final). Default 400 ms. */
  stepMs?: number;
  /** How long recordInfo answers "recordInfo is null" after createTask. Default 150 ms. */
  recordDelayMs?: number;
  /** When set, callbacks carry X-Webhook-Timestamp and X-Webhook-Signature (kie-api.md). */
  webhookHmacKey?: string;
  /** Global fault rules (README "Fault rules"), as the string grammar or a list. */
  faults?: string | readonly (string | KieSimFaultRuleInput)[];
  /** pino-compatible `(fields, message)` logger; false for silence. Default: console. */
  logger?: KieSimLogger | false;
  /** KIE credits on the simulated account (GET /api/v1/chat/credit). Default 1,000,000. */
  accountCredits?: number;
  /** Shrinks every generated image by this factor (0–1], for fast tests. Default 1. */
  imageScale?: number;
  /** Tasks kept in memory before the oldest are forgotten. Default 5000. */
  maxTasks?: number;
  /** Bytes of uploaded files and results kept before the oldest are dropped. Default 256 MiB. */
  maxStoredBytes?: number;
  /** Largest file an upload endpoint accepts. Default 30 MiB. */
  maxUploadBytes?: number;
  /** Time limit for fetching image_urls and fileUrl sources. Default 30 s (KIE's own limit). */
  fetchTimeoutMs?: number;
  /**
   * Origins image_urls / fileUrl may be fetched from although they resolve to loopback or private
   * addresses (a test's stand-in for "some other host"). Everything else goes through the address
   * guard (fetchGuard.ts). Never from user input.
   */
  trustedFetchOrigins?: readonly string[];
  /** Time limit for one callback POST. Default 10 s. */
  callbackTimeoutMs?: number;
  /** KIE's documented limit is about 20 createTask per 10 s; off unless given. */
  createTaskRateLimit?: { limit: number; windowMs: number };
  /** Serve the /__sim/ control API. Default true. */
  controlApi?: boolean;
  /** Source of randomness for probabilistic fault rules; default Math.random. */
  random?: () => number;
}

export interface KieSimStats {
  /** Requests per endpoint, counted on arrival (including faulted and rejected ones). */
  calls: Record<KieSimEndpoint, number>;
  /** Files stored by the three upload endpoints. */
  uploads: number;
  tasksCreated: number;
  tasksSucceeded: number;
  tasksFailed: number;
  /** Callback POSTs attempted (duplicates included). */
  callbacksSent: number;
  /** Of those, the ones that got no 2xx answer (network error, timeout, error status). */
  callbacksFailed: number;
  /** Requests answered with an injected outcome (header or global rule). */
  faultsInjected: number;
  authFailures: number;
  rateLimited: number;
}

export type KieSimTaskSnapshot = Readonly<
  KieRecordData & {
    prompt: string;
    callBackUrl?: string;
    resultUrl?: string;
    /** recordInfo answers "recordInfo is null" before this time (epoch ms). */
    recordVisibleAt: number;
    callbacksSent: number;
  }
>;

export interface KieSimFaultRuleSnapshot {
  rule: string;
  endpoint: string;
  /** Requests left for a `times=` rule; null when unlimited. */
  remaining: number | null;
  probability: number;
}

export interface RunningKieSim {
  /** Base URL, e.g. http://127.0.0.1:8787 — use it as KIE_BASE_URL and KIE_UPLOAD_BASE_URL. */
  url: string;
  close(): Promise<void>;
  stats(): KieSimStats;
  resetStats(): void;
  /** Replaces the global fault rules; throws KieSimFaultSyntaxError on a malformed rule. */
  setFaults(rules: string | readonly (string | KieSimFaultRuleInput)[]): void;
  faults(): KieSimFaultRuleSnapshot[];
  tasks(): KieSimTaskSnapshot[];
  task(taskId: string): KieSimTaskSnapshot | undefined;
  credits(): number;
  setCredits(credits: number): void;
}

export class KieSimOptionsError extends Error {
  constructor(message: string) {
    super(`kie-sim options: ${message}`);
    this.name = "KieSimOptionsError";
  }
}

const MIB = 1024 * 1024;
const JSON_BODY_LIMIT = MIB;

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

function standardMessage(code: number): string {
  return STANDARD_MESSAGES[code] ?? `Error ${code}`;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface RequestContext {
  req: IncomingMessage;
  url: URL;
  bytesPerSecond?: number;
}

interface Route {
  method: "GET" | "POST";
  endpoint: KieSimEndpoint;
  /** Upload answers carry `success` beside `code`. */
  upload: boolean;
  handle(ctx: RequestContext): Promise<Reply>;
}

function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function emptyStats(): KieSimStats {
  return {
    calls: Object.fromEntries(KIE_SIM_ENDPOINTS.map((e) => [e, 0])) as Record<KieSimEndpoint, number>,
    uploads: 0,
    tasksCreated: 0,
    tasksSucceeded: 0,
    tasksFailed: 0,
    callbacksSent: 0,
    callbacksFailed: 0,
    faultsInjected: 0,
    authFailures: 0,
    rateLimited: 0,
  };
}

const consoleLogger: KieSimLogger = {
  info: (fields, message) => console.log(`[kie-sim] ${message}`, JSON.stringify(fields)),
  warn: (fields, message) => console.warn(`[kie-sim] ${message}`, JSON.stringify(fields)),
  error: (fields, message) => console.error(`[kie-sim] ${message}`, JSON.stringify(fields)),
};

const silentLogger: KieSimLogger = { info: () => {}, warn: () => {}, error: () => {} };

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new KieSimOptionsError(`${name} must be a number >= 0`);
  return v;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new KieSimOptionsError(`${name} must be an integer >= 1`);
  return v;
}

class KieSim {
  private stats = emptyStats();
  private rules: FaultRule[];
  private credits: number;
  private readonly tasks: BoundedMap<string, SimTask>;
  private readonly blobs: BoundedMap<string, StoredBlob>;
  private readonly engine: TaskEngine;
  private readonly abort = new AbortController();
  private readonly logger: KieSimLogger;
  private readonly server: Server;
  private readonly routes: Map<string, Route>;
  private readonly apiKeys?: Buffer[];
  private readonly random: () => number;
  private readonly stepMs: number;
  private readonly maxUploadBytes: number;
  private readonly fetchTimeoutMs: number;
  /** Every outbound fetch's connections: resolved and checked here (fetchGuard.ts). */
  private readonly fetchAgent = createGuardedAgent();
  private readonly sources: Sources;
  private readonly createTimes: number[] = [];
  private base = "";
  private localBases: string[] = [];

  constructor(private readonly options: KieSimOptions) {
    this.logger = options.logger === false ? silentLogger : (options.logger ?? consoleLogger);
    this.random = options.random ?? Math.random;
    this.stepMs = nonNegative("stepMs", options.stepMs, 400);
    this.maxUploadBytes = positiveInteger("maxUploadBytes", options.maxUploadBytes, 30 * MIB);
    this.fetchTimeoutMs = positiveInteger("fetchTimeoutMs", options.fetchTimeoutMs, 30_000);
    const imageScale = options.imageScale ?? 1;
    if (!(imageScale > 0 && imageScale <= 1)) throw new KieSimOptionsError("imageScale must be in (0, 1]");
    this.credits = nonNegative("accountCredits", options.accountCredits, 1_000_000);
    if (options.apiKeys) {
      if (options.apiKeys.length === 0 || options.apiKeys.some((k) => k.trim() === "")) {
        throw new KieSimOptionsError("apiKeys must be non-empty strings");
      }
      this.apiKeys = options.apiKeys.map((k) => Buffer.from(k));
    }
    if (options.createTaskRateLimit) {
      positiveInteger("createTaskRateLimit.limit", options.createTaskRateLimit.limit, 1);
      positiveInteger("createTaskRateLimit.windowMs", options.createTaskRateLimit.windowMs, 1);
    }
    this.rules = options.faults ? normalizeFaultRules(options.faults, "options.faults") : [];

    this.tasks = new BoundedMap({ maxEntries: positiveInteger("maxTasks", options.maxTasks, 5000) });
    this.blobs = new BoundedMap(
      { maxEntries: 100_000, maxBytes: positiveInteger("maxStoredBytes", options.maxStoredBytes, 256 * MIB) },
      (blob) => blob.bytes.length,
    );
    this.sources = new Sources({
      blobs: this.blobs,
      localBases: () => this.localBases,
      fetchTimeoutMs: this.fetchTimeoutMs,
      fetchAgent: this.fetchAgent,
      trustedFetchOrigins: options.trustedFetchOrigins ?? [],
      signal: this.abort.signal,
    });
    this.engine = new TaskEngine({
      tasks: this.tasks,
      blobs: this.blobs,
      sources: this.sources,
      stepMs: this.stepMs,
      recordDelayMs: nonNegative("recordDelayMs", options.recordDelayMs, 150),
      imageScale,
      callbackTimeoutMs: positiveInteger("callbackTimeoutMs", options.callbackTimeoutMs, 10_000),
      webhookHmacKey: options.webhookHmacKey,
      logger: this.logger,
      signal: this.abort.signal,
      publicBase: () => this.base,
      onCredits: (delta) => {
        this.credits = Math.max(0, this.credits + delta);
      },
      onCallback: (ok) => {
        this.stats.callbacksSent += 1;
        if (!ok) this.stats.callbacksFailed += 1;
      },
      onFinished: (state) => {
        if (state === "success") this.stats.tasksSucceeded += 1;
        else this.stats.tasksFailed += 1;
      },
    });

    this.routes = new Map<string, Route>([
      [
        "/api/v1/jobs/createTask",
        { method: "POST", endpoint: "createTask", upload: false, handle: (c) => this.createTask(c) },
      ],
      [
        "/api/v1/jobs/recordInfo",
        { method: "GET", endpoint: "recordInfo", upload: false, handle: (c) => this.recordInfo(c) },
      ],
      [
        "/api/file-stream-upload",
        { method: "POST", endpoint: "fileStreamUpload", upload: true, handle: (c) => this.streamUpload(c) },
      ],
      [
        "/api/file-base64-upload",
        { method: "POST", endpoint: "fileBase64Upload", upload: true, handle: (c) => this.base64Upload(c) },
      ],
      [
        "/api/file-url-upload",
        { method: "POST", endpoint: "fileUrlUpload", upload: true, handle: (c) => this.urlUpload(c) },
      ],
      [
        "/api/v1/common/download-url",
        { method: "POST", endpoint: "downloadUrl", upload: false, handle: (c) => this.downloadUrl(c) },
      ],
      [
        "/api/v1/chat/credit",
        {
          method: "GET",
          endpoint: "credit",
          upload: false,
          handle: async () => this.envelope(false, 200, "success", this.credits),
        },
      ],
    ]);

    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (this.abort.signal.aborted) {
          // Closing: whatever was in flight is cut off on purpose.
        } else if (req.destroyed || res.destroyed) {
          this.logger.info({ path: req.url }, "kie-sim client went away before the answer");
        } else {
          this.logger.error({ err: String(error), path: req.url }, "kie-sim request crashed");
        }
        if (!res.headersSent && !res.destroyed) {
          const reply = this.envelope(false, 500, "kie-sim internal error", null, 500);
          res.writeHead(reply.status, reply.headers).end(reply.body);
        } else {
          res.destroy();
        }
      });
    });
  }

  async listen(): Promise<string> {
    const host = this.options.host ?? "127.0.0.1";
    const port = this.options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const urlHost =
      host === "0.0.0.0" || host === "::"
        ? "127.0.0.1"
        : address.family === "IPv6"
          ? `[${address.address}]`
          : host;
    const own = `http://${urlHost}:${address.port}`;
    this.base = (this.options.publicUrl ?? own).replace(/\/+$/, "");
    this.localBases = [
      ...new Set([this.base, own, `http://127.0.0.1:${address.port}`, `http://localhost:${address.port}`]),
    ];
    this.logger.info({ url: own, publicUrl: this.base }, "kie-sim listening");
    return own;
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.engine.stop();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.fetchAgent.close().catch(() => {});
  }

  // --- the public handle's operations ---------------------------------------------------------

  getStats(): KieSimStats {
    return structuredClone(this.stats);
  }

  resetStats(): void {
    this.stats = emptyStats();
  }

  setFaults(rules: string | readonly (string | KieSimFaultRuleInput)[], source = "faults"): void {
    this.rules = normalizeFaultRules(rules, source);
    this.logger.info({ rules: this.rules.map((r) => r.text) }, "kie-sim fault rules set");
  }

  faultSnapshot(): KieSimFaultRuleSnapshot[] {
    return this.rules.map((r) => ({
      rule: r.text,
      endpoint: r.endpoint,
      remaining: r.remaining ?? null,
      probability: r.probability,
    }));
  }

  snapshot(task: SimTask): KieSimTaskSnapshot {
    return Object.freeze({
      ...task.record,
      prompt: task.input.prompt,
      callBackUrl: task.callBackUrl,
      resultUrl: task.resultUrl,
      recordVisibleAt: task.visibleAt,
      callbacksSent: task.callbacksSent,
    });
  }

  allTasks(): KieSimTaskSnapshot[] {
    return [...this.tasks.values()].map((t) => this.snapshot(t));
  }

  findTask(taskId: string): KieSimTaskSnapshot | undefined {
    const task = this.tasks.get(taskId);
    return task ? this.snapshot(task) : undefined;
  }

  getCredits(): number {
    return this.credits;
  }

  setCredits(credits: number): void {
    this.credits = nonNegative("credits", credits, 0);
  }

  // --- request pipeline -------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://kie-sim.local");
    const path = url.pathname;
    if (path.startsWith("/__sim/") && this.options.controlApi !== false) {
      return this.writeReply(req, res, await this.control(req, url));
    }

    let route: Route | undefined = this.routes.get(path);
    const isFile = path.startsWith("/files/") || path.startsWith("/results/");
    if (isFile) {
      route = { method: "GET", endpoint: "files", upload: false, handle: (c) => this.serveFile(c) };
    }
    if (!route) {
      req.resume();
      return this.writeReply(
        req,
        res,
        this.envelope(false, 404, `Not found: ${req.method} ${path}`, null, 404),
      );
    }
    const method = req.method === "HEAD" && isFile ? "GET" : req.method;
    if (method !== route.method) {
      req.resume();
      const reply = this.envelope(
        route.upload,
        405,
        `Method not allowed: use ${route.method} ${path}`,
        null,
        405,
      );
      reply.headers.allow = route.method;
      return this.writeReply(req, res, reply);
    }
    this.stats.calls[route.endpoint] += 1;

    let headerSpec: FaultSpec | undefined;
    const header = req.headers["x-kie-sim-fault"];
    if (header !== undefined) {
      try {
        headerSpec = parseFaultHeader(Array.isArray(header) ? header.join(";") : header);
      } catch (error) {
        req.resume();
        const message = error instanceof KieSimFaultSyntaxError ? error.message : String(error);
        return this.writeReply(req, res, this.envelope(route.upload, 400, message, null, 400));
      }
    }
    const { spec, fired } = resolveFaults(route.endpoint, headerSpec, this.rules, this.random);
    if (spec.outcome) {
      this.stats.faultsInjected += 1;
      this.logger.info(
        {
          endpoint: route.endpoint,
          outcome: spec.outcome,
          after: spec.after,
          rules: fired.map((r) => r.text),
        },
        "kie-sim fault injected",
      );
    }
    await sleep(spec.latencyMs, this.abort.signal);

    if (spec.outcome && !spec.after) {
      if (spec.outcome.kind !== "reset") req.resume();
      return this.applyOutcome(req, res, route, spec.outcome, undefined);
    }
    const reply = await this.runEndpoint(route, { req, url, bytesPerSecond: spec.bytesPerSecond });
    if (spec.outcome) return this.applyOutcome(req, res, route, spec.outcome, reply);
    return this.writeReply(req, res, reply, spec.bytesPerSecond);
  }

  private async runEndpoint(route: Route, ctx: RequestContext): Promise<Reply> {
    if (route.endpoint !== "files") {
      const denied = this.authenticate(ctx.req, route);
      if (denied) {
        ctx.req.resume();
        return denied;
      }
    }
    try {
      return await route.handle(ctx);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return this.envelope(route.upload, 400, `request body exceeds ${error.limit} bytes`);
      }
      throw error;
    }
  }

  private authenticate(req: IncomingMessage, route: Route): Reply | undefined {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let ok = false;
    let message = "Authorization header with a Bearer API key is required";
    if (match) {
      const token = Buffer.from(match[1]!);
      ok =
        !this.apiKeys ||
        this.apiKeys.some((key) => key.length === token.length && timingSafeEqual(key, token));
      message = "Invalid API key";
    }
    if (ok) return undefined;
    this.stats.authFailures += 1;
    return this.envelope(route.upload, 401, message, null, 401);
  }

  private async applyOutcome(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    outcome: FaultOutcome,
    reply: Reply | undefined,
  ): Promise<void> {
    switch (outcome.kind) {
      case "http":
      case "body-code": {
        const code = outcome.kind === "http" ? outcome.status : outcome.code;
        const status = outcome.kind === "http" ? outcome.status : 200;
        const headers: Record<string, string> =
          outcome.retryAfterSeconds !== undefined ? { "retry-after": String(outcome.retryAfterSeconds) } : {};
        return this.writeReply(
          req,
          res,
          this.envelope(route.upload, code, standardMessage(code), null, status, headers),
        );
      }
      case "hang":
        // Nothing is written; close() or the client ends the connection.
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "malformed": {
        if (outcome.variant === "html") {
          const html =
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
          return this.writeReply(req, res, {
            status: 502,
            headers: { "content-type": "text/html" },
            body: Buffer.from(html),
          });
        }
        const full =
          reply?.body ??
          Buffer.from(
            JSON.stringify({ code: 200, msg: "success", data: { taskId: randomBytes(16).toString("hex") } }),
          );
        return this.writeReply(req, res, {
          status: 200,
          headers: { "content-type": "application/json; charset=utf-8" },
          body: full.subarray(0, Math.max(1, Math.floor(full.length / 2))),
        });
      }
    }
  }

  private async writeReply(req: IncomingMessage, res: ServerResponse, reply: Reply, bytesPerSecond?: number) {
    if (res.destroyed) return;
    res.writeHead(reply.status, { ...reply.headers, "content-length": String(reply.body.length) });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    await writeBody(res, reply.body, { bytesPerSecond, signal: this.abort.signal });
  }

  private envelope(
    upload: boolean,
    code: number,
    msg: string,
    data: unknown = null,
    httpStatus = 200,
    headers: Record<string, string> = {},
  ): Reply {
    const body = upload ? { success: code === 200, code, msg, data } : { code, msg, data };
    return jsonReply(httpStatus, body, headers);
  }

  private async readJson(ctx: RequestContext, route: { upload: boolean }, maxBytes = JSON_BODY_LIMIT) {
    const raw = await readBody(ctx.req, {
      maxBytes,
      bytesPerSecond: ctx.bytesPerSecond,
      signal: this.abort.signal,
    });
    try {
      return { body: JSON.parse(raw.toString("utf8")) as unknown };
    } catch {
      return { error: this.envelope(route.upload, 400, "request body must be valid JSON") };
    }
  }

  // --- jobs -------------------------------------------------------------------------------------

  private async createTask(ctx: RequestContext): Promise<Reply> {
    const parsed = await this.readJson(ctx, { upload: false });
    if (parsed.error) return parsed.error;

    const limit = this.options.createTaskRateLimit;
    if (limit) {
      const now = Date.now();
      while (this.createTimes.length > 0 && this.createTimes[0]! <= now - limit.windowMs)
        this.createTimes.shift();
      if (this.createTimes.length >= limit.limit) {
        this.stats.rateLimited += 1;
        const retryAfter = Math.max(1, Math.ceil((this.createTimes[0]! + limit.windowMs - now) / 1000));
        return this.envelope(false, 429, standardMessage(429), null, 429, {
          "retry-after": String(retryAfter),
        });
      }
    }

    let validated: ReturnType<typeof validateCreateTask>;
    let directives: ReturnType<typeof parsePromptDirectives>;
    try {
      validated = validateCreateTask(parsed.body);
      directives = parsePromptDirectives(validated.input.prompt);
    } catch (error) {
      if (error instanceof InputValidationError) return this.envelope(false, error.code, error.message);
      if (error instanceof KieSimFaultSyntaxError) return this.envelope(false, 422, error.message);
      throw error;
    }
    if (this.credits < validated.input.credits) {
      return this.envelope(false, 402, standardMessage(402));
    }
    if (limit) this.createTimes.push(Date.now());
    const task = this.engine.create({ ...validated, body: parsed.body, directives });
    this.stats.tasksCreated += 1;
    return this.envelope(false, 200, "success", { taskId: task.record.taskId });
  }

  private async recordInfo(ctx: RequestContext): Promise<Reply> {
    const taskId = ctx.url.searchParams.get("taskId")?.trim();
    if (!taskId) return this.envelope(false, 422, "taskId is required");
    const task = this.tasks.get(taskId);
    if (!task) return this.envelope(false, 404, `Task not found: ${taskId}`);
    if (Date.now() < task.visibleAt) return this.envelope(false, 422, "recordInfo is null");
    return this.envelope(false, 200, "success", { ...task.record });
  }

  // --- uploads ----------------------------------------------------------------------------------

  private async streamUpload(ctx: RequestContext): Promise<Reply> {
    const contentType = ctx.req.headers["content-type"] ?? "";
    if (!/^multipart\/form-data\b/i.test(contentType)) {
      ctx.req.resume();
      return this.envelope(true, 400, "Content-Type must be multipart/form-data with a 'file' part");
    }
    let raw: Buffer;
    try {
      raw = await readBody(ctx.req, {
        maxBytes: this.maxUploadBytes + 64 * 1024,
        bytesPerSecond: ctx.bytesPerSecond,
        signal: this.abort.signal,
      });
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return this.envelope(true, 400, `file exceeds the ${this.maxUploadBytes} byte limit`);
      }
      throw error;
    }
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), { headers: { "content-type": contentType } }).formData();
    } catch {
      return this.envelope(true, 400, "malformed multipart/form-data body");
    }
    const file = form.get("file");
    if (!(file instanceof Blob))
      return this.envelope(true, 400, "file is required (a multipart file part named 'file')");
    const bytes = Buffer.from(await file.arrayBuffer());
    return this.storeUpload({
      bytes,
      uploadPath: form.get("uploadPath"),
      fileName: form.get("fileName"),
      declaredType: file.type,
      hintName: file instanceof File ? file.name : undefined,
    });
  }

  private async base64Upload(ctx: RequestContext): Promise<Reply> {
    const parsed = await this.readJson(
      ctx,
      { upload: true },
      Math.ceil(this.maxUploadBytes * 1.4) + 64 * 1024,
    );
    if (parsed.error) return parsed.error;
    const body = (parsed.body ?? {}) as Record<string, unknown>;
    const data = body.base64Data;
    if (typeof data !== "string" || data.trim() === "")
      return this.envelope(true, 400, "base64Data is required");
    const match = /^data:([^;,]*)((?:;[^;,]*)*);base64,(.*)$/s.exec(data.trim());
    const payload = (match ? match[3]! : data).replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload) || payload.length === 0) {
      return this.envelope(true, 400, "base64Data must be base64 or a data:<type>;base64,… URI");
    }
    const bytes = Buffer.from(payload, "base64");
    if (bytes.length > this.maxUploadBytes) {
      return this.envelope(true, 400, `file exceeds the ${this.maxUploadBytes} byte limit`);
    }
    return this.storeUpload({
      bytes,
      uploadPath: body.uploadPath,
      fileName: body.fileName,
      declaredType: match?.[1] || undefined,
    });
  }

  private async urlUpload(ctx: RequestContext): Promise<Reply> {
    const parsed = await this.readJson(ctx, { upload: true });
    if (parsed.error) return parsed.error;
    const body = (parsed.body ?? {}) as Record<string, unknown>;
    const fileUrl = body.fileUrl;
    if (typeof fileUrl !== "string" || fileUrl.trim() === "")
      return this.envelope(true, 400, "fileUrl is required");
    let source: URL;
    try {
      source = new URL(fileUrl);
      if (source.protocol !== "http:" && source.protocol !== "https:") throw new Error("scheme");
    } catch {
      return this.envelope(true, 400, "fileUrl must be an http(s) URL");
    }
    // Check the other fields before spending up to 30 s on the download.
    const pathProblem = this.checkUploadPath(body.uploadPath) ?? this.checkFileName(body.fileName);
    if (pathProblem) return this.envelope(true, 400, pathProblem);

    let fetched: Awaited<ReturnType<Sources["fetch"]>>;
    try {
      fetched = await this.sources.fetch(source.href, this.maxUploadBytes);
    } catch (error) {
      if (!(error instanceof FetchError)) throw error;
      return this.envelope(
        true,
        error.answered ? 400 : 500,
        `fileUrl could not be downloaded: ${error.message}`,
      );
    }
    if (!fetched) return this.envelope(true, 400, "fileUrl could not be downloaded: HTTP 404");
    const { bytes, contentType } = fetched;
    const urlName = decodeURIComponent(source.pathname.split("/").pop() ?? "");
    return this.storeUpload({
      bytes,
      uploadPath: body.uploadPath,
      fileName: body.fileName,
      declaredType: contentType?.split(";")[0]?.trim(),
      hintName: urlName,
    });
  }

  private checkUploadPath(value: unknown): string | undefined {
    if (typeof value !== "string" || value.trim() === "") return "uploadPath is required";
    const segments = value
      .trim()
      .replace(/^\/+|\/+$/g, "")
      .split("/");
    if (segments.some((s) => !SAFE_SEGMENT.test(s) || s === "." || s === "..")) {
      return "uploadPath must be a folder path of letters, digits, '.', '_' and '-' segments";
    }
    return undefined;
  }

  private checkFileName(value: unknown): string | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    if (
      typeof value !== "string" ||
      /[/\\\0]/.test(value) ||
      value === "." ||
      value === ".." ||
      value.length > 255
    ) {
      return "fileName must be a plain file name (no slashes, at most 255 characters)";
    }
    return undefined;
  }

  private storeUpload(options: {
    bytes: Buffer;
    uploadPath: unknown;
    fileName: unknown;
    declaredType?: string;
    hintName?: string;
  }): Reply {
    const problem = this.checkUploadPath(options.uploadPath) ?? this.checkFileName(options.fileName);
    if (problem) return this.envelope(true, 400, problem);
    if (options.bytes.length === 0) return this.envelope(true, 400, "file is empty");
    const folder = (options.uploadPath as string).trim().replace(/^\/+|\/+$/g, "");
    const extensionOf = (name?: string) => name?.match(/\.([A-Za-z0-9]+)$/)?.[1]?.toLowerCase();
    const sniffed = sniffMimeType(options.bytes);
    const given =
      typeof options.fileName === "string" && options.fileName !== "" ? options.fileName : undefined;
    const mimeType =
      sniffed ??
      MIME_BY_EXTENSION[extensionOf(given) ?? ""] ??
      (options.declaredType && /^[\w.+-]+\/[\w.+-]+$/.test(options.declaredType)
        ? options.declaredType
        : undefined) ??
      MIME_BY_EXTENSION[extensionOf(options.hintName) ?? ""] ??
      "application/octet-stream";
    const fileName =
      given ??
      `${randomBytes(8).toString("hex")}.${EXTENSION_BY_MIME[mimeType] ?? extensionOf(options.hintName) ?? "bin"}`;
    const filePath = `${folder}/${fileName}`;
    const now = Date.now();
    this.blobs.set(`files/${filePath}`, { bytes: options.bytes, mimeType, createdAt: now });
    this.stats.uploads += 1;
    return this.envelope(true, 200, "File uploaded successfully", {
      fileName,
      filePath,
      downloadUrl: `${this.base}/files/${filePath.split("/").map(encodeURIComponent).join("/")}`,
      fileSize: options.bytes.length,
      mimeType,
      uploadedAt: new Date(now).toISOString(),
    });
  }

  // --- files, download links ------------------------------------------------------------------

  private async serveFile(ctx: RequestContext): Promise<Reply> {
    const notFound = () => jsonReply(404, { code: 404, msg: "File not found or expired", data: null });
    let key: string;
    try {
      key = ctx.url.pathname.slice(1).split("/").map(decodeURIComponent).join("/");
    } catch {
      return notFound();
    }
    const expires = ctx.url.searchParams.get("expires");
    if (expires !== null && !(Number(expires) > Date.now())) {
      return jsonReply(403, { code: 403, msg: "Download link expired", data: null });
    }
    const blob = this.blobs.get(key);
    if (!blob) return notFound();
    return {
      status: 200,
      headers: {
        "content-type": blob.mimeType,
        "cache-control": "public, max-age=3600",
        "x-content-type-options": "nosniff",
        "last-modified": new Date(blob.createdAt).toUTCString(),
      },
      body: blob.bytes,
    };
  }

  private async downloadUrl(ctx: RequestContext): Promise<Reply> {
    const parsed = await this.readJson(ctx, { upload: false });
    if (parsed.error) return parsed.error;
    const url = (parsed.body as Record<string, unknown> | null)?.url;
    if (typeof url !== "string" || url.trim() === "") return this.envelope(false, 422, "url is required");
    const own = this.sources.resolveOwnUrl(url.trim());
    if (!own?.blob)
      return this.envelope(false, 422, "url is not a file generated by KIE (or it has expired)");
    const link = new URL(url.trim());
    link.search = "";
    link.searchParams.set("expires", String(Date.now() + 20 * 60_000));
    return this.envelope(false, 200, "success", link.href);
  }

  // --- control API ----------------------------------------------------------------------------

  private async control(req: IncomingMessage, url: URL): Promise<Reply> {
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    const fail = (status: number, message: string) => jsonReply(status, { error: message });
    const readText = async () => (await readBody(req, { maxBytes: JSON_BODY_LIMIT })).toString("utf8");

    if (path === "/__sim/health" && method === "GET") {
      return jsonReply(200, { ok: true, url: this.base, tasks: this.tasks.size });
    }
    if (path === "/__sim/stats" && method === "GET") return jsonReply(200, this.getStats());
    if (path === "/__sim/reset" && method === "POST") {
      req.resume();
      this.resetStats();
      return jsonReply(200, this.getStats());
    }
    if (path === "/__sim/faults") {
      if (method === "GET") return jsonReply(200, { rules: this.faultSnapshot() });
      if (method === "DELETE") {
        this.rules = [];
        return jsonReply(200, { rules: [] });
      }
      if (method === "PUT") {
        const text = await readText();
        let rules: string | (string | KieSimFaultRuleInput)[] = text;
        if (/json/i.test(req.headers["content-type"] ?? "")) {
          try {
            const body = JSON.parse(text) as { rules?: unknown };
            rules = body.rules as typeof rules;
          } catch {
            return fail(400, 'body must be JSON {"rules": …} or text/plain rules');
          }
        }
        try {
          this.setFaults(rules ?? "", "PUT /__sim/faults");
        } catch (error) {
          return fail(400, error instanceof Error ? error.message : String(error));
        }
        return jsonReply(200, { rules: this.faultSnapshot() });
      }
      return fail(405, "use GET, PUT or DELETE");
    }
    if (path === "/__sim/tasks" && method === "GET") return jsonReply(200, { tasks: this.allTasks() });
    const taskMatch = /^\/__sim\/tasks\/([^/]+)$/.exec(path);
    if (taskMatch && method === "GET") {
      const task = this.findTask(decodeURIComponent(taskMatch[1]!));
      return task ? jsonReply(200, task) : fail(404, "unknown task");
    }
    if (path === "/__sim/credits") {
      if (method === "GET") return jsonReply(200, { credits: this.credits });
      if (method === "PUT") {
        let credits: unknown;
        try {
          credits = (JSON.parse(await readText()) as { credits?: unknown }).credits;
        } catch {
          return fail(400, 'body must be JSON {"credits": <number>}');
        }
        if (typeof credits !== "number" || !Number.isFinite(credits) || credits < 0) {
          return fail(400, "credits must be a number >= 0");
        }
        this.credits = credits;
        return jsonReply(200, { credits });
      }
      return fail(405, "use GET or PUT");
    }
    req.resume();
    return fail(404, `unknown control route ${method} ${path}`);
  }
}

/** Starts kie-sim and resolves once it listens. */
export async function startKieSim(options: KieSimOptions = {}): Promise<RunningKieSim> {
  const sim = new KieSim(options);
  const url = await sim.listen();
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= sim.close();
      return closing;
    },
    stats: () => sim.getStats(),
    resetStats: () => sim.resetStats(),
    setFaults: (rules) => sim.setFaults(rules),
    faults: () => sim.faultSnapshot(),
    tasks: () => sim.allTasks(),
    task: (taskId) => sim.findTask(taskId),
    credits: () => sim.getCredits(),
    setCredits: (credits) => sim.setCredits(credits),
  };
}
