/**
 * Uploads that never finish (issue 24 item 2): real HTTP on loopback, one connection each, that
 * send their headers and part of their body, then nothing. What the server answers (if anything),
 * and the spooled bytes it keeps meanwhile.
 */
import { readdirSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";

export const MiB = 1024 * 1024;
const BOUNDARY = "----held-upload-boundary";

export interface HeldUpload {
  /** Status and headers once the server answers; undefined until then. */
  answer: { status: number; headers: http.IncomingHttpHeaders; body: string } | undefined;
  /** Resolves with the answer (or with status -1 when the connection ends without one). */
  answered: Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  /** Drops the connection (a client that gives up). */
  abort(): void;
}

/**
 * POSTs to /api/generate a body that announces `declaredBytes` (multipart with one file part, or
 * JSON with one data URI) and sends only its first `sentBytes`, then stalls.
 */
export function holdUpload(
  baseUrl: string,
  token: string,
  {
    kind = "multipart",
    sentBytes,
    declaredBytes = 20 * MiB,
    headers = {},
  }: {
    kind?: "multipart" | "json";
    sentBytes: number;
    declaredBytes?: number;
    headers?: Record<string, string>;
  },
): HeldUpload {
  const head =
    kind === "multipart"
      ? `--${BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nheld\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n` +
        "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
      : '{"prompt":"held","images":["data:image/png;base64,iVBORw0KGgo';
  const filler = kind === "multipart" ? 0x61 : 0x41; // 'a' bytes, or base64 'A's
  const request = http.request(`${baseUrl}/api/generate`, {
    method: "POST",
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": kind === "multipart" ? `multipart/form-data; boundary=${BOUNDARY}` : "application/json",
      "content-length": String(declaredBytes),
      prefer: "respond-async",
      ...headers,
    },
  });
  const held: HeldUpload = {
    answer: undefined,
    answered: new Promise((resolve) => {
      request.once("response", (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        const done = () => {
          held.answer = { status: response.statusCode ?? 0, headers: response.headers, body };
          resolve(held.answer);
        };
        response.once("end", done);
        response.once("error", done);
      });
      request.once("error", () => resolve({ status: -1, headers: {}, body: "" }));
      request.once("close", () => resolve(held.answer ?? { status: -1, headers: {}, body: "" }));
    }),
    abort: () => request.destroy(),
  };
  request.write(head);
  let sent = Buffer.byteLength(head);
  const chunk = Buffer.alloc(64 * 1024, filler);
  while (sent < sentBytes) {
    const part = chunk.subarray(0, Math.min(chunk.length, sentBytes - sent));
    request.write(part);
    sent += part.length;
  }
  return held;
}

/** Bytes in every file under `dir` (recursively); 0 when it does not exist. */
export function bytesUnder(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const entry = path.join(dir, name);
    const info = statSync(entry, { throwIfNoEntry: false });
    if (!info) continue;
    total += info.isDirectory() ? bytesUnder(entry) : info.size;
  }
  return total;
}

/** Entries (a request's spool folder each) in `dir`; 0 when it does not exist. */
export function entriesIn(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}
