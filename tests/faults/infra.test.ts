/**
 * The app's own dependencies failing: the Postgres connection dropped in the middle of a request
 * (a clean error, nothing half-written, the next request works), Redis down (rate limits keep
 * working in memory), and malformed request bodies (refused before any money moves). Each
 * scenario ends with every job settled and a balanced ledger.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { creditLedger, type Database, generations, openDatabase } from "@/lib/db";
import {
  createTestDatabase,
  creditsOf,
  eventually,
  expectImageLoads,
  expectSettledAndBalanced,
  type Harness,
  json,
  pollUntilFinal,
  startHarness,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";
import { startTcpProxy, type TcpProxy } from "./tcpProxy";

const REDIS_URL = process.env.TEST_REDIS_URL || undefined;

describe.skipIf(!TEST_DATABASE_URL)(
  `faults: database, Redis, bodies${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: TestDatabase;
    let h: Harness | undefined;
    const cleanup: (() => Promise<unknown>)[] = [];
    beforeAll(async () => {
      database = await createTestDatabase("postgres");
    });
    afterAll(async () => {
      await database?.dispose();
    });
    beforeEach(async () => {
      await database.truncate();
    });
    afterEach(async () => {
      await h?.close();
      h = undefined;
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    // A unique client address per test: the Redis limiter is shared with whoever else uses it.
    const ip = () => `10.${randomBytes(3).join(".")}`;
    const generate = (harness: Harness, token: string, prompt: string, clientIp: string) =>
      harness.fetch("/api/generate", {
        token,
        ...json({ prompt }, { prefer: "respond-async", "x-forwarded-for": clientIp }),
      });

    /** The app's database, reached through a TCP proxy that can cut a connection mid-statement. */
    async function databaseBehindProxy(): Promise<{ proxy: TcpProxy; appDatabase: Database }> {
      const target = new URL(database.databaseUrl as string);
      const proxy: TcpProxy = await startTcpProxy({
        host: target.hostname,
        port: Number(target.port || 5432),
      });
      cleanup.push(() => proxy.close());
      const viaProxy = new URL(target);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const appDatabase: Database = await openDatabase({
        databaseUrl: viaProxy.toString(),
        maxConnections: 4,
      });
      cleanup.push(() => appDatabase.close());
      return { proxy, appDatabase };
    }

    it("Postgres connection dropped mid-request: a clean 5xx, nothing half-written, the next request works", async () => {
      const { proxy, appDatabase } = await databaseBehindProxy();
      h = await startHarness({ database: appDatabase });
      const { token } = await h.signIn();

      // Cut the connection as the reserve's ledger row goes out: the job row and the debit are
      // already written inside the open transaction.
      const cut = proxy.cutOn(/insert into "nano_banana"\."credit_ledger"/i);
      const response = await generate(h, token, "interrupted", ip());
      await cut;
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBeGreaterThanOrEqual(500);
      expect(body).toMatchObject({
        success: false,
        error: { code: expect.any(String), requestId: expect.any(String) },
      });
      expect(JSON.stringify(body)).not.toMatch(/credit_ledger|nano_banana|ECONNRESET|terminated/i);
      const direct = database.database.db;
      expect(await direct.select().from(generations)).toEqual([]);
      expect((await direct.select().from(creditLedger)).map((row) => row.kind)).toEqual(["grant"]);
      expect(await creditsOf(h, token)).toBe(10);
      expect(h.sim.stats().calls.createTask).toBe(0);

      // The pool replaced the broken connection.
      const next = await generate(h, token, "after the drop", ip());
      expect(next.status).toBe(202);
      await pollUntilFinal(h, token, [(await next.json()).taskId]);
      await expectSettledAndBalanced(database.database, { attempts: 200 });
    });

    it("a database error after the job exists: the answer names the job, the same-key retry answers from it, charged once", async () => {
      const { proxy, appDatabase } = await databaseBehindProxy();
      h = await startHarness({ database: appDatabase });
      const harness = h;
      const { token } = await harness.signIn();
      const clientIp = ip();
      const send = () =>
        harness.fetch("/api/generate", {
          token,
          ...json(
            { prompt: "[sim:delay=300] the answer is lost" },
            { prefer: "wait", "idempotency-key": "after-the-job-1", "x-forwarded-for": clientIp },
          ),
        });

      const firstAnswer = send();
      await eventually(
        "the job's createTask",
        async () => harness.sim.stats().calls.createTask,
        (n) => n === 1,
      );
      // The job exists at KIE: drop the connection as the answer's balance is read.
      const cut = proxy.cutOn(/select "balance" from "nano_banana"\."credit_accounts"/i);
      const first = await firstAnswer;
      await cut;
      const failed = await first.json();
      expect(first.status, JSON.stringify(failed)).toBe(500);
      expect(failed.error).toMatchObject({ code: "internal_error", taskId: expect.any(String) });

      const retry = await send();
      const answered = await retry.json();
      expect(retry.status, JSON.stringify(answered)).toBe(200);
      expect(answered).toMatchObject({ status: "succeeded", taskId: failed.error.taskId });
      expect(harness.sim.stats().calls.createTask).toBe(1);
      expect(await creditsOf(harness, token)).toBe(9);
      await expectSettledAndBalanced(database.database);
      await expectImageLoads(harness, token, answered.imageUrl);
    });

    it.skipIf(!REDIS_URL)(
      "Redis goes down: per-user limits keep working in memory, answers stay prompt",
      async () => {
        const redis = new URL(REDIS_URL as string);
        const proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
        cleanup.push(() => proxy.close());
        h = await startHarness({
          database: database.database,
          env: {
            REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
            RATE_LIMIT_PER_MINUTE: "2",
            RATE_LIMIT_IP_PER_MINUTE: "100",
          },
        });
        const before = await h.signIn();
        const counted = await generate(h, before.token, "counted in Redis", ip());
        expect(counted.status).toBe(202);
        await pollUntilFinal(h, before.token, [(await counted.json()).taskId]);

        await proxy.down();
        const { token } = await h.signIn();
        const clientIp = ip();
        const statuses: number[] = [];
        const accepted: string[] = [];
        for (let i = 0; i < 3; i++) {
          const started = Date.now();
          const response = await generate(h, token, `while Redis is down ${i}`, clientIp);
          statuses.push(response.status);
          if (response.status === 202) accepted.push((await response.clone().json()).taskId);
          expect(Date.now() - started).toBeLessThan(3_000);
          if (response.status === 429) {
            expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
            expect((await response.json()).error.code).toBe("rate_limited");
          }
        }
        expect(statuses).toEqual([202, 202, 429]);
        await pollUntilFinal(h, token, accepted);
        expect(await creditsOf(h, token)).toBe(8);
        await expectSettledAndBalanced(database.database);
      },
    );

    it.skipIf(!REDIS_URL)("Redis unreachable from the start: the server starts and limits hold", async () => {
      const proxy = await startTcpProxy({ host: "127.0.0.1", port: 9 });
      await proxy.down(); // nothing listens on this port any more
      h = await startHarness({
        database: database.database,
        env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, RATE_LIMIT_PER_MINUTE: "1" },
      });
      const { token } = await h.signIn();
      const clientIp = ip();
      const first = await generate(h, token, "first", clientIp);
      expect(first.status).toBe(202);
      expect((await generate(h, token, "second", clientIp)).status).toBe(429);
      await pollUntilFinal(h, token, [(await first.json()).taskId]);
      await expectSettledAndBalanced(database.database);
    });

    it("malformed bodies are refused with 4xx before any money moves", async () => {
      h = await startHarness({ database: database.database });
      const { token } = await h.signIn();
      const post = (headers: Record<string, string>, body: BodyInit) =>
        h!.fetch("/api/generate", { method: "POST", token, headers, body });
      const boundary = "----fault";
      const cases: [string, Promise<Response>, number][] = [
        ["truncated JSON", post({ "content-type": "application/json" }, '{"prompt": "a'), 400],
        ["a JSON array", post({ "content-type": "application/json" }, "[1,2]"), 400],
        ["JSON null", post({ "content-type": "application/json" }, "null"), 400],
        [
          "multipart without its boundary",
          post({ "content-type": "multipart/form-data" }, `--${boundary}\r\n`),
          400,
        ],
        [
          "truncated multipart",
          post(
            { "content-type": `multipart/form-data; boundary=${boundary}` },
            `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhalf`,
          ),
          400,
        ],
        [
          "a file that is not an image",
          post(
            { "content-type": `multipart/form-data; boundary=${boundary}` },
            `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nedit\r\n` +
              `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="x.png"\r\n` +
              `Content-Type: image/png\r\n\r\nMZ\x90\x00 not a png at all\r\n--${boundary}--\r\n`,
          ),
          415,
        ],
        [
          "a prompt of 5001 characters",
          post({ "content-type": "application/json" }, JSON.stringify({ prompt: "x".repeat(5001) })),
          400,
        ],
      ];
      for (const [what, pending, expected] of cases) {
        const response = await pending;
        const body = await response.json();
        expect(response.status, `${what}: ${JSON.stringify(body)}`).toBe(expected);
        expect(body.success, what).toBe(false);
      }
      expect(await database.database.db.select().from(generations)).toEqual([]);
      expect(h.sim.stats().calls.createTask).toBe(0);
      expect(await creditsOf(h, token)).toBe(10);
      await expectSettledAndBalanced(database.database);
    });
  },
);
