/**
 * JobEvents.listen on a real Postgres (issue 22 item 12): when the LISTEN connection dies it is
 * released once and replaced once (a killed backend reports its end twice: the FATAL message and
 * the closed socket), notifications keep arriving, and stopping leaves nothing checked out, so
 * `pool.end()` resolves. Needs TEST_DATABASE_URL; skipped visibly without it.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobEvents } from "@/lib/generation/events";
import type { Logger } from "@/lib/observability/logger";
import { startTcpProxy } from "../../faults/tcpProxy";
import { createEmptyPostgresDatabase, TEST_DATABASE_URL } from "../../helpers/database";
import { eventually } from "../../helpers/probes";

/** Longer than both reconnect pauses: a second, wrong reconnect would have happened by then. */
const PAST_EVERY_RECONNECT_MS = 6_000;

describe.skipIf(!TEST_DATABASE_URL)(
  `JobEvents.listen on Postgres${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: { url: string; drop(): Promise<void> };
    let admin: pg.Client;
    const channel = `nb_listen_${randomBytes(4).toString("hex")}`;
    const cleanup: (() => Promise<unknown>)[] = [];

    beforeEach(async () => {
      database = await createEmptyPostgresDatabase();
      admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
    });
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
      await admin.end();
      await database.drop();
    });

    function poolTo(url: string): pg.Pool {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      pool.on("error", () => undefined); // an idle client's death is the pool's to handle
      return pool;
    }

    function recordingLogger() {
      const warnings: string[] = [];
      const logger = {
        warn: (_fields: unknown, message: string) => warnings.push(message),
        info: () => undefined,
        error: () => undefined,
        debug: () => undefined,
      } as unknown as Logger;
      return { warnings, logger };
    }

    const listeners = async () =>
      (
        await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1",
          [`LISTEN ${channel}`],
        )
      ).rows.map((row) => row.pid);

    /** NOTIFYs `jobId` until the events relay it (a reconnect may still be under way). */
    async function expectRelayed(events: JobEvents, jobId: string): Promise<void> {
      const heard = events.waitForSettled(jobId, 20_000);
      let done = false;
      void heard.finally(() => {
        done = true;
      });
      while (!done) {
        await admin.query("SELECT pg_notify($1, $2)", [channel, jobId]);
        await Promise.race([heard, sleep(200)]);
      }
      expect(await heard).toBe(true);
    }

    /** pool.end() must resolve: a client left checked out makes it wait forever. */
    async function expectPoolEnds(pool: pg.Pool): Promise<void> {
      const ended = await Promise.race([pool.end().then(() => "ended"), sleep(10_000).then(() => "hung")]);
      expect(ended).toBe("ended");
    }

    it("a killed LISTEN backend: one reconnect, no leaked client, notifications still delivered, a clean stop", async () => {
      const pool = poolTo(database.url);
      const events = new JobEvents();
      const { warnings, logger } = recordingLogger();
      await events.listen(pool, channel, logger);
      await expectRelayed(events, "job-before");
      const [backend] = await listeners();
      expect(backend).toEqual(expect.any(Number));

      await admin.query("SELECT pg_terminate_backend($1)", [backend]);
      await expectRelayed(events, "job-after");
      await sleep(PAST_EVERY_RECONNECT_MS);
      expect(warnings.filter((w) => w.includes("LISTEN"))).toEqual([
        "LISTEN connection failed; reconnecting",
      ]);
      expect((await listeners()).filter((pid) => pid !== backend)).toHaveLength(1);
      expect(pool.totalCount).toBe(1);
      await expectRelayed(events, "job-later");

      await events.close();
      expect(pool.totalCount).toBe(0);
      await expectPoolEnds(pool);
      await eventually("the LISTEN backend to go", listeners, (pids) => pids.length === 0);
    });

    it("a connection cut as LISTEN is sent (its query fails and it errors): one reconnect, a clean stop", async () => {
      const target = new URL(database.url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      cleanup.push(() => proxy.close());
      const viaProxy = new URL(target);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const pool = poolTo(viaProxy.toString());
      const events = new JobEvents();
      const { warnings, logger } = recordingLogger();

      const cut = proxy.cutOn(/LISTEN/);
      await events.listen(pool, channel, logger);
      await cut;
      await expectRelayed(events, "job-after-cut");
      await sleep(PAST_EVERY_RECONNECT_MS);
      expect(warnings.filter((w) => w.includes("LISTEN"))).toEqual([
        "LISTEN connection failed; reconnecting",
      ]);
      expect(await listeners()).toHaveLength(1);
      expect(pool.totalCount).toBe(1);

      await events.close();
      expect(pool.totalCount).toBe(0);
      await expectPoolEnds(pool);
    });

    it("stopping while a reconnect is under way leaves nothing checked out", async () => {
      const pool = poolTo(database.url);
      const events = new JobEvents();
      await events.listen(pool, channel, recordingLogger().logger);
      const [backend] = await listeners();
      await admin.query("SELECT pg_terminate_backend($1)", [backend]);
      await eventually(
        "the reconnect to begin",
        async () => pool.totalCount,
        (n) => n === 0,
      );
      await events.close();
      await sleep(PAST_EVERY_RECONNECT_MS);
      expect(pool.totalCount).toBe(0);
      expect(await listeners()).toEqual([]);
      await expectPoolEnds(pool);
    });
  },
);
