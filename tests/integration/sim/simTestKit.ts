/** Shared helpers for the kie-sim tests: real HTTP against a real simulator on port 0. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { type KieSimOptions, type RunningKieSim, startKieSim } from "@/sim/server";

export const KEY = "sim-test-key";
/** The simulator's own key for its /__sim/ control API (never a KIE key). */
export const CONTROL_KEY = "sim-test-control-key";

/** Small and fast: images at 1/8 size, 20 ms per step, a short recordInfo-null window. */
export function startTestSim(options: KieSimOptions = {}): Promise<RunningKieSim> {
  return startKieSim({
    port: 0,
    host: "127.0.0.1",
    stepMs: 20,
    recordDelayMs: 10,
    imageScale: 0.125,
    logger: false,
    controlKey: CONTROL_KEY,
    ...options,
  });
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  json: any;
}

export async function call(
  sim: { url: string },
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; key?: string | null } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  const key = init.key === undefined ? KEY : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (init.body instanceof FormData || typeof init.body === "string") body = init.body;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  }
  const response = await fetch(`${sim.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export async function createTask(
  sim: { url: string },
  body: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<string> {
  const answer = await call(sim, "/api/v1/jobs/createTask", { body, headers });
  if (answer.json?.code !== 200) throw new Error(`createTask failed: ${answer.status} ${answer.text}`);
  return answer.json.data.taskId as string;
}

export function textTask(
  prompt: string,
  input: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return { model: "google/nano-banana", input: { prompt, ...input }, ...extra };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls recordInfo until the task is final; returns every answer seen, in order. Bounded by a
 * poll count, not a clock (the test's own timeout is the backstop).
 */
export async function pollUntilFinal(sim: { url: string }, taskId: string, intervalMs = 10, maxPolls = 3000) {
  const seen: ApiAnswer[] = [];
  for (let i = 0; i < maxPolls; i++) {
    const answer = await call(sim, `/api/v1/jobs/recordInfo?taskId=${taskId}`);
    seen.push(answer);
    const state = answer.json?.data?.state;
    if (state === "success" || state === "fail") {
      return { final: answer.json.data, seen };
    }
    await sleep(intervalMs);
  }
  throw new Error(`task ${taskId} did not finish after ${maxPolls} polls`);
}

export async function pollUntilState(sim: { url: string }, taskId: string, state: string, maxPolls = 3000) {
  for (let i = 0; i < maxPolls; i++) {
    const answer = await call(sim, `/api/v1/jobs/recordInfo?taskId=${taskId}`);
    if (answer.json?.data?.state === state) return answer.json.data;
    await sleep(10);
  }
  throw new Error(`task ${taskId} never reached ${state}`);
}

export function resultUrlOf(record: { resultJson: string }): string {
  const parsed = JSON.parse(record.resultJson) as { resultUrls: string[] };
  return parsed.resultUrls[0]!;
}

export async function fetchImage(url: string) {
  const response = await fetch(url);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${bytes.toString()}`);
  const meta = await sharp(bytes).metadata();
  return { bytes, meta, contentType: response.headers.get("content-type") };
}

/** A photo-like test image: smooth diagonal colour ramps, so transforms change many pixels. */
export function sampleImage(
  width: number,
  height: number,
  format: "png" | "jpeg" | "webp" = "png",
): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = Math.round((x / width) * 200 + 30);
      pixels[i + 1] = Math.round((y / height) * 180 + 40);
      pixels[i + 2] = Math.round(((x + y) / (width + height)) * 120 + 60);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}

/** Mean absolute per-channel difference (0–255) between two images, after fitting b to a's size. */
export async function meanAbsoluteDifference(a: Buffer, b: Buffer): Promise<number> {
  const meta = await sharp(a).metadata();
  const ra = await sharp(a).removeAlpha().raw().toBuffer();
  const rb = await sharp(b).resize(meta.width, meta.height, { fit: "fill" }).removeAlpha().raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < ra.length; i++) sum += Math.abs(ra[i]! - rb[i]!);
  return sum / ra.length;
}

export interface ReceivedCallback {
  headers: IncomingMessage["headers"];
  // biome-ignore lint/suspicious/noExplicitAny: callback bodies are checked field by field.
  body: any;
  receivedAt: number;
}

/**
 * A local callback receiver. `respond` may answer differently (status, or work before answering,
 * e.g. reading recordInfo while the callback is in flight).
 */
export async function startReceiver(
  respond: (callback: ReceivedCallback, res: ServerResponse) => Promise<void> | void = (_c, res) => {
    res.writeHead(200).end("ok");
  },
) {
  const received: ReceivedCallback[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const callback: ReceivedCallback = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        receivedAt: Date.now(),
      };
      received.push(callback);
      try {
        await respond(callback, res);
      } catch {
        if (!res.headersSent) res.writeHead(500).end();
      }
      for (const w of waiters.filter((w) => received.length >= w.count)) w.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Resolves once at least `count` callbacks have arrived (and been answered). */
    waitFor(count: number): Promise<void> {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A plain static file server standing in for "some other host" (fileUrl, image_urls). */
export async function startFileHost(files: Record<string, { body: Buffer | string; type: string }>) {
  const server = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (!file) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": file.type }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits (bounded by a poll count) until `condition` holds; for counters updated just after an answer. */
export async function eventually(condition: () => boolean, maxPolls = 500): Promise<void> {
  for (let i = 0; i < maxPolls && !condition(); i++) await sleep(10);
  if (!condition()) throw new Error("condition never became true");
}
