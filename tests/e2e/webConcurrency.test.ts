/**
 * WEB_CONCURRENCY (issue 28 item 5): with Postgres, `npm start` runs that many `next start`
 * processes on the one port (Node's cluster module, scripts/start.ts). Both answer requests
 * (each request's log line carries its process id), and one that dies is replaced while the other
 * keeps serving.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKieSim } from "@/sim/server";
import { createEmptyPostgresDatabase, TEST_DATABASE_URL } from "../helpers/database";
import { type RunningApp, startApp } from "../helpers/server";

/** The `next start` processes under `pid` (cluster workers run Next's own CLI). */
function nextServers(pid: number): number[] {
  const found: number[] = [];
  const visit = (p: number) => {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      return; // gone
    }
    for (const child of children.map(Number)) {
      const cmdline = (() => {
        try {
          return readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0");
        } catch {
          return [];
        }
      })();
      // Next renames its server process (`next-server (v16…)`); before that it is Next's CLI.
      const isNext =
        cmdline[0]?.startsWith("next-server") ||
        (cmdline.some((arg) => arg.endsWith("next/dist/bin/next")) && cmdline.includes("start"));
      if (isNext) found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found.sort();
}

/**
 * GET on a connection of its own (the cluster deals connections, not requests); 0 when it gets no
 * answer within 10 s (a connection dealt to a process as it died is reset or left unanswered).
 */
function getAlone(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", () => resolve(0));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(0));
  });
}

/** The process ids in the app's JSON log lines for requests to /api/health. */
function healthPids(app: RunningApp): Set<number> {
  const pids = new Set<number>();
  for (const line of app.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; route?: string; pid?: number };
      if (entry.msg === "request" && entry.route === "health" && entry.pid) pids.add(entry.pid);
    } catch {
      // not a log line of ours
    }
  }
  return pids;
}

async function until<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `gave up waiting for ${what}: ${JSON.stringify(value instanceof Set ? [...value] : value)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!TEST_DATABASE_URL)("npm start with WEB_CONCURRENCY=2 on Postgres", () => {
  let database: { url: string; drop(): Promise<void> };
  let sim: Awaited<ReturnType<typeof startKieSim>>;
  let app: RunningApp;

  beforeAll(async () => {
    database = await createEmptyPostgresDatabase();
    sim = await startKieSim({ logger: false });
    app = await startApp({
      WEB_CONCURRENCY: "2",
      DATABASE_URL: database.url,
      KIE_API_KEY: "",
      KIE_BASE_URL: sim.url,
      KIE_UPLOAD_BASE_URL: sim.url,
      SUPABASE_URL: "",
      SUPABASE_JWT_SECRET: "a-supabase-jwt-secret-for-this-test-0123456789",
      IMAGE_URL_SECRET: "an-image-link-secret-for-this-test-0123456789",
      DEV_SIGN_IN: "",
      REDIS_URL: "",
    });
  });
  afterAll(async () => {
    await app?.stop();
    await sim?.close();
    await database?.drop();
  });

  it("runs two server processes on the one port, and both answer", async () => {
    expect(nextServers(app.pid)).toHaveLength(2);
    // Both finish starting (each opens the database and migrates) before they are counted.
    const servers = await until(
      "requests answered by both processes",
      async () => {
        for (let i = 0; i < 10; i++) expect(await getAlone(`${app.url}/api/health`)).toBe(200);
        return healthPids(app);
      },
      (pids) => pids.size === 2,
    );
    expect([...servers].sort()).toEqual(nextServers(app.pid));
    expect(app.output()).toMatch(/Starting 2 server processes on port \d+ \(WEB_CONCURRENCY\)/);
  });

  it("replaces a process that dies, while the other keeps answering", async () => {
    const [victim, survivor] = nextServers(app.pid) as [number, number];
    process.kill(victim, "SIGKILL");
    // The survivor keeps answering (a connection the primary dealt to the victim as it died may not).
    await until(
      "the survivor to answer",
      () => getAlone(`${app.url}/api/health`),
      (status) => status === 200,
    );
    const after = await until(
      "a replacement process",
      () => nextServers(app.pid),
      (pids) => pids.length === 2 && !pids.includes(victim),
    );
    expect(after).toContain(survivor);
    await until(
      "the replacement to answer",
      async () => {
        for (let i = 0; i < 10; i++) await getAlone(`${app.url}/api/health`);
        return healthPids(app);
      },
      (pids) => after.every((pid) => pids.has(pid)),
    );
  }, 180_000);
});
