/**
 * Uploads that never finish, against the production server (`next start`, its own process) on
 * loopback (issue 24 item 2, DESIGN.md §3 "Requests"): 50 at once from 10 users keep the
 * server's RSS and its spooled bytes under the stated caps, everyone else is still served, the
 * held ones are given up after UPLOAD_IDLE_TIMEOUT_MS with their spools removed; and the spools of
 * uploads held when the server is killed (SIGKILL) are gone once it starts again.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBodyLimit } from "@/lib/http/generateRequest";
import { spoolDirOf } from "@/lib/storage";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { bytesUnder, entriesIn, type HeldUpload, holdUpload, MiB } from "../helpers/heldUploads";
import { type NextServer, startNextServer } from "../helpers/nextServer";
import { freePort } from "../helpers/server";
import { pngImage } from "../integration/generate/generateKit";
import { eventually } from "./faultKit";

const IN_FLIGHT_MAX = 8; // the defaults, stated
const PER_USER_MAX = 2;
const IDLE_MS = 4000;
const FILE_BYTES = 4 * MiB;
const JSON_BYTES = 8 * MiB;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

async function signIn(url: string, email: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/dev`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).accessToken;
}

const refusedOf = (uploads: HeldUpload[]) =>
  uploads.filter((upload) => upload.answer && upload.answer.status !== 408);

describe("faults: uploads that never finish, on the production server", () => {
  let sim: RunningKieSim;
  let server: NextServer | undefined;
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-uploads-"));
  let env: Record<string, string>;
  let port: number;
  beforeAll(async () => {
    sim = await startKieSim({ stepMs: 100, recordDelayMs: 50, imageScale: 0.125, logger: false });
    port = await freePort();
    env = {
      PORT: String(port),
      DATA_DIR: dataDir,
      DATABASE_URL: "",
      KIE_BASE_URL: sim.url,
      KIE_UPLOAD_BASE_URL: sim.url,
      KIE_API_KEY: "",
      SUPABASE_URL: "",
      SUPABASE_JWT_SECRET: "",
      REDIS_URL: "",
      RATE_LIMIT_IP_PER_MINUTE: "100000",
      RATE_LIMIT_PER_MINUTE: "1000",
      UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS),
    };
  });
  afterAll(async () => {
    await server?.stop();
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("50 at once: RSS and spooled bytes under the caps, others served, spools gone after the idle timeout and after kill -9 + restart", async () => {
    server = await startNextServer(port, env);
    const url = server.url;
    const spool = spoolDirOf(dataDir, "uploads");
    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) => signIn(url, `held-${i}@example.com`)),
    );
    const other = await signIn(url, "other@example.com");
    // Warm the route (its code loads on first use), then take the baseline.
    await fetch(`${url}/api/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${other}`, "content-type": "application/json" },
      body: "{}",
    });
    const baseline = rssBytes(server.pid);

    const uploads = tokens.flatMap((token, u) =>
      Array.from({ length: 5 }, () =>
        u % 2 === 0
          ? holdUpload(url, token, { kind: "multipart", sentBytes: FILE_BYTES })
          : holdUpload(url, token, { kind: "json", sentBytes: JSON_BYTES, declaredBytes: 12 * MiB }),
      ),
    );
    let peak = baseline;
    let peakSpool = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, rssBytes(server!.pid));
      peakSpool = Math.max(peakSpool, bytesUnder(spool));
    }, 50);
    try {
      await eventually(
        "the uploads beyond the caps to be refused",
        () => refusedOf(uploads).length,
        (n) => n >= 50 - IN_FLIGHT_MAX,
        { attempts: 200, intervalMs: 25 },
      );
      const statuses = new Set(refusedOf(uploads).map((upload) => upload.answer!.status));
      expect([...statuses].sort()).toEqual([429, 503]); // per user, and in all
      for (const upload of refusedOf(uploads)) upload.abort();
      // Everyone else is still served meanwhile.
      const credits = await fetch(`${url}/api/credits`, { headers: { authorization: `Bearer ${other}` } });
      expect(credits.status).toBe(200);
      const text = await fetch(`${url}/api/generate`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${other}`,
          "content-type": "application/json",
          prefer: "respond-async",
        },
        body: JSON.stringify({ prompt: "served while uploads are held" }),
      });
      expect(text.status).toBe(202);

      // The held ones stop sending: 408 after the idle timeout, and their spools are removed.
      const held = uploads.filter((upload) => !refusedOf(uploads).includes(upload));
      expect(held.length).toBeLessThanOrEqual(IN_FLIGHT_MAX);
      for (const ending of await Promise.all(held.map((upload) => upload.answered))) {
        expect(ending.status).toBe(408);
      }
    } finally {
      clearInterval(watch);
    }
    // The stated caps (DESIGN.md §3): spooled bytes ≤ UPLOADS_IN_FLIGHT_MAX × what each sent (far
    // under × the multipart limit); memory ≤ UPLOADS_IN_FLIGHT_MAX × the JSON limit, plus slack.
    expect(peakSpool, `spooled at most ${Math.round(peakSpool / MiB)} MiB`).toBeLessThanOrEqual(
      PER_USER_MAX * 5 * FILE_BYTES,
    );
    const grew = peak - baseline;
    expect(grew, `RSS grew by ${Math.round(grew / MiB)} MiB`).toBeLessThan(
      IN_FLIGHT_MAX * jsonBodyLimit(10 * MiB) + 32 * MiB,
    );
    await eventually(
      "the spools to be removed after the idle timeout",
      () => entriesIn(spool),
      (n) => n === 0,
    );

    // Held again, then the server is killed: nothing of it runs; the restart sweeps what it left.
    const again = tokens.slice(0, 4).map((token) => holdUpload(url, token, { sentBytes: FILE_BYTES }));
    await eventually(
      "the new uploads to be spooled",
      () => entriesIn(spool),
      (n) => n === 4,
      {
        attempts: 200,
        intervalMs: 25,
      },
    );
    await server.kill9();
    for (const upload of again) upload.abort();
    expect(entriesIn(spool)).toBe(4); // left by the dead process
    server = await startNextServer(port, env);
    expect(entriesIn(spool)).toBe(0);
    const after = await fetch(`${server.url}/api/credits`, {
      headers: { authorization: `Bearer ${tokens[0]}` },
    });
    expect((await after.json()).balance).toBe(10); // nothing was charged for any held upload
  }, 120_000);

  it("a client that gives up mid-upload frees its slot: the same user's next upload is read, not refused", async () => {
    await server?.stop();
    // An idle timeout far beyond the test: only the abort itself can free the slots.
    server = await startNextServer(port, { ...env, UPLOAD_IDLE_TIMEOUT_MS: "600000" });
    const url = server.url;
    const token = await signIn(url, "gives-up@example.com");
    for (let round = 0; round < 3; round++) {
      const held = [0, 1].map(() => holdUpload(url, token, { sentBytes: MiB }));
      await eventually(
        "both uploads to be spooled",
        () => entriesIn(spoolDirOf(dataDir, "uploads")),
        (n) => n === 2,
      );
      for (const upload of held) upload.abort();
      await eventually(
        "the aborted uploads' spools to go",
        () => entriesIn(spoolDirOf(dataDir, "uploads")),
        (n) => n === 0,
      );
    }
    // Chunked (no Content-Length), so it counts as an upload: refused with 429 if a slot leaked.
    const status = await eventually(
      "the next upload to be read and accepted",
      async () => (await completeUpload(url, token, await pngImage())).status,
      (code) => code === 202,
      { attempts: 20, intervalMs: 100 },
    );
    expect(status).toBe(202);
  }, 120_000);
});

/** A whole multipart edit request, streamed (chunked): one PNG part. */
async function completeUpload(url: string, token: string, png: Buffer): Promise<Response> {
  const boundary = "----complete-upload";
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nafter giving up\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n` +
        "Content-Type: image/png\r\n\r\n",
    ),
    png,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return fetch(`${url}/api/generate`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
      prefer: "respond-async",
    },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(body));
        controller.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
}
