/**
 * Shared fixtures for the KIE client tests: a client with a fake clock and sleep, on a MockAgent,
 * or (with `server`) on its own keep-alive Agent against a real local server.
 */
import http from "node:http";
import { inspect } from "node:util";
import { MockAgent } from "undici";
import { expect } from "vitest";
import { KieClient, type KieClientEvent, type KieClientOptions, type KieLogger } from "@/lib/kie";

export const API_KEY = "sk-test-SECRET-7f3a9c21e8";
export const API = "https://api.kie.test";
export const UPLOAD = "https://upload.kie.test";
export const START = Date.parse("2025-01-01T12:00:00.000Z");

export interface Kit {
  client: KieClient;
  agent: MockAgent;
  api: ReturnType<MockAgent["get"]>;
  upload: ReturnType<MockAgent["get"]>;
  sleeps: number[];
  events: KieClientEvent[];
  logs: { level: string; obj: object; msg?: string }[];
  /** The fake clock; sleeping advances it. */
  clock: { now: number };
  /** Closes the client (and its own Agent, with `server`) and the MockAgent. */
  close(): Promise<void>;
  calls(): {
    path: string;
    method: string;
    headers: Record<string, string>;
    body: string | null | undefined;
  }[];
}

export interface KitOptions extends Partial<KieClientOptions> {
  onSleep?: (ms: number, signal?: AbortSignal) => void;
  /** A real server's URL: the client talks to it (both hosts) through its own keep-alive Agent. */
  server?: string;
}

export function makeKit(overrides: KitOptions = {}): Kit {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  const sleeps: number[] = [];
  const events: KieClientEvent[] = [];
  const logs: Kit["logs"] = [];
  const clock = { now: START };
  const logger: KieLogger = {
    debug: (obj, msg) => logs.push({ level: "debug", obj, msg }),
    info: (obj, msg) => logs.push({ level: "info", obj, msg }),
    warn: (obj, msg) => logs.push({ level: "warn", obj, msg }),
  };
  const { onSleep, server, ...options } = overrides;
  const client = new KieClient({
    apiKey: API_KEY,
    baseUrl: server ?? API,
    uploadBaseUrl: server ?? UPLOAD,
    dispatcher: server ? undefined : agent,
    requestTimeoutMs: 5_000,
    retryBaseDelayMs: 100,
    retryMaxDelayMs: 1_000,
    random: () => 0.5,
    now: () => clock.now,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      onSleep?.(ms, signal);
      if (signal?.aborted) throw signal.reason;
      clock.now += ms;
    },
    onEvent: (event) => events.push(event),
    logger,
    ...options,
  });
  return {
    client,
    agent,
    api: agent.get(API),
    upload: agent.get(UPLOAD),
    sleeps,
    events,
    logs,
    clock,
    close: async () => {
      await client.close();
      await agent.close();
    },
    calls: () =>
      (agent.getCallHistory()?.calls() ?? []).map((c) => ({
        path: c.path,
        method: c.method,
        headers: lowerCaseHeaders(c.headers),
        body: c.body,
      })),
  };
}

function lowerCaseHeaders(
  headers: Record<string, string | string[]> | null | undefined,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : v]),
  );
}

export const ok = (data: unknown) => ({ code: 200, msg: "success", data });
export const JSON_HEADERS = { headers: { "content-type": "application/json" } };

export async function captureError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

/** Fails if the API key can be found anywhere in an error: message, stack, JSON, causes, inspect output. */
export function expectNoApiKey(error: unknown): void {
  const seen: string[] = [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error) ?? ""];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current; depth++) {
    const e = current as { message?: unknown; stack?: unknown; cause?: unknown };
    seen.push(String(e.message), String(e.stack));
    current = e.cause;
  }
  for (const text of seen) expect(text).not.toContain(API_KEY);
}

export interface TestServer {
  url: string;
  hits: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  close(): Promise<void>;
}

/** A local HTTP server on 127.0.0.1, port 0. The handler may ignore the request to make it hang. */
export async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
): Promise<TestServer> {
  const hits: TestServer["hits"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      hits.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function closedPort(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
