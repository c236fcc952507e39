/**
 * The memory attack through the production server (`npm start`): 300 MB chunked bodies to
 * the callback route and to POST /api/generate are answered with a 4xx before most of them is
 * sent, the server's memory barely moves, and /api/health keeps answering within a second. Also:
 * with dev sign-in on, the server listens on 127.0.0.1 only.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

const MiB = 1024 * 1024;
const TOTAL = 300 * MiB;

/** The server and its helpers: every descendant of the process startApp spawned. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function rssBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      total += Number(match?.[1] ?? 0) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

interface Outcome {
  status: number;
  sentBeforeAnswer: number;
}

/** Streams up to 300 MB as a chunked body; stops the moment the server answers. */
async function streamHuge(url: string, headers: Record<string, string>, head = ""): Promise<Outcome> {
  const request = http.request(url, {
    method: "POST",
    headers: { ...headers, "transfer-encoding": "chunked" },
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once("response", resolve);
    request.once("error", reject);
  });
  let answer: http.IncomingMessage | undefined;
  void answered.then(
    (response) => {
      answer = response;
    },
    () => {},
  );
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let sent = 0;
  if (head) {
    request.write(head);
    sent += Buffer.byteLength(head);
  }
  while (sent < TOTAL && !answer) {
    sent += chunk.length;
    if (!request.write(chunk)) await Promise.race([once(request, "drain"), answered]);
  }
  const response = await answered;
  const sentBeforeAnswer = sent;
  response.resume();
  request.destroy();
  return { status: response.statusCode ?? 0, sentBeforeAnswer };
}

describe("bounded bodies through the production server", () => {
  let app: RunningApp;
  let token = "";
  let serverPids: number[] = [];

  beforeAll(async () => {
    app = await startApp({ KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" });
    serverPids = descendants(app.pid);
    const signIn = await fetch(`${app.url}/api/auth/dev`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "bodies@example.com" }),
    });
    token = (await signIn.json()).accessToken;
  });

  afterAll(async () => {
    await app?.stop();
  });

  it("listens on 127.0.0.1 only while dev sign-in is on", () => {
    const port = Number(new URL(app.url).port);
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    const listening = [readFileSync("/proc/net/tcp", "utf8"), readFileSync("/proc/net/tcp6", "utf8")]
      .flatMap((table) => table.split("\n").slice(1))
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === "0A" && fields[1]?.endsWith(`:${hexPort}`))
      .map((fields) => fields[1]!.split(":")[0]);
    expect(listening).toEqual(["0100007F"]); // 127.0.0.1, and nothing on 0.0.0.0 or ::
  });

  const cases: [string, string, () => Record<string, string>, string][] = [
    [
      "the callback route (unknown job)",
      "/api/kie/callback?job=0f8fad5b-d9cb-469f-a165-70867728950e&token=guess",
      () => ({ "content-type": "application/json" }),
      "",
    ],
    [
      "POST /api/generate as JSON",
      "/api/generate",
      () => ({ "content-type": "application/json", authorization: `Bearer ${token}` }),
      '{"prompt":"',
    ],
    [
      "POST /api/generate as multipart",
      "/api/generate",
      () => ({ "content-type": "multipart/form-data; boundary=b0undary", authorization: `Bearer ${token}` }),
      '--b0undary\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
    ],
  ];

  for (const [name, path, headers, head] of cases) {
    it(`${name}: a 300 MB chunked body gets its 4xx early; RSS +< 50 MB; health within 1 s`, async () => {
      // Warm the route (first use loads its code), then take the baseline.
      await streamHuge(`${app.url}${path}`, headers(), head).catch(() => undefined);
      const baseline = rssBytes(serverPids);
      expect(baseline, "the server's processes were found").toBeGreaterThan(50 * MiB);
      let peak = baseline;
      let slowestHealthMs = 0;
      let healthFailures = 0;
      let running = true;
      const watcher = (async () => {
        while (running) {
          peak = Math.max(peak, rssBytes(serverPids));
          const started = performance.now();
          try {
            const response = await fetch(`${app.url}/api/health`, { signal: AbortSignal.timeout(1000) });
            await response.arrayBuffer();
            if (!response.ok) healthFailures++;
          } catch {
            healthFailures++;
          }
          slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      const outcome = await streamHuge(`${app.url}${path}`, headers(), head);
      await new Promise((resolve) => setTimeout(resolve, 300));
      running = false;
      await watcher;
      peak = Math.max(peak, rssBytes(serverPids));

      expect(outcome.status).toBeGreaterThanOrEqual(400);
      expect(outcome.status).toBeLessThan(500);
      expect(outcome.sentBeforeAnswer, "answered before most of the body was sent").toBeLessThan(TOTAL / 2);
      expect(peak - baseline, `RSS grew by ${Math.round((peak - baseline) / MiB)} MB`).toBeLessThan(50 * MiB);
      expect(healthFailures, `slowest health answer: ${Math.round(slowestHealthMs)} ms`).toBe(0);
    });
  }
});
