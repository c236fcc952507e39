/**
 * The Redis store: several app instances share one count, and a Redis outage degrades to
 * per-instance memory limits (logged once) instead of failing requests.
 */
import { randomUUID } from "node:crypto";
import net from "node:net";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createRateLimiter, type RateLimiter } from "@/lib/http/rateLimit";

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
if (!TEST_REDIS_URL) console.warn("rate limit Redis tests skipped: needs TEST_REDIS_URL");

function recordingLogger() {
  const lines: { level: "info" | "warn"; msg?: string }[] = [];
  return {
    lines,
    info: (_obj: object, msg?: string) => lines.push({ level: "info", msg }),
    warn: (_obj: object, msg?: string) => lines.push({ level: "warn", msg }),
  };
}

const opened: RateLimiter[] = [];
async function sharedLimiter(url: string, keyPrefix: string, logger = recordingLogger()) {
  const limiter = createRateLimiter({
    redis: { url },
    perUserPerMinute: 2,
    perIpPerMinute: 3,
    logger,
    keyPrefix,
  });
  opened.push(limiter);
  expect(await limiter.ready(5000)).toBe(true);
  return limiter;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});

/** A TCP relay to Redis that the test can cut and restore, to stage an outage. */
async function startRelay(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  return {
    url: `redis://127.0.0.1:${port}`,
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    restore: () => listen(port),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!TEST_REDIS_URL)(
  `createRateLimiter (Redis)${TEST_REDIS_URL ? "" : " (needs TEST_REDIS_URL)"}`,
  () => {
    const url = TEST_REDIS_URL!;

    it("shares a personal API key's count between instances, apart from its user's (issue 29)", async () => {
      const keyPrefix = `test:${randomUUID()}`;
      const make = async () => {
        const limiter = createRateLimiter({
          redis: { url },
          perUserPerMinute: 1,
          perIpPerMinute: 1,
          perApiKeyPerMinute: 3,
          logger: recordingLogger(),
          keyPrefix,
        });
        opened.push(limiter);
        expect(await limiter.ready(5000)).toBe(true);
        return limiter;
      };
      const [first, second] = [await make(), await make()];
      await first.consumeApiKey("key-a");
      await second.consumeApiKey("key-a");
      await first.consumeApiKey("key-a");
      await expect(second.consumeApiKey("key-a")).rejects.toMatchObject({ code: "rate_limited" });
      await second.consumeApiKey("key-b"); // each key its own bucket
      await first.consumeUser("key-a"); // a user id that happens to equal a key id: another bucket
    });

    it("shares the counts between two instances", async () => {
      const keyPrefix = `test:${randomUUID()}`;
      const first = await sharedLimiter(url, keyPrefix);
      const second = await sharedLimiter(url, keyPrefix);

      await first.consumeIp("203.0.113.1");
      await first.consumeIp("203.0.113.1");
      await second.consumeIp("203.0.113.1");
      await expect(second.consumeIp("203.0.113.1")).rejects.toMatchObject({ code: "rate_limited" });
      await expect(first.consumeIp("203.0.113.1")).rejects.toMatchObject({ code: "rate_limited" });

      await first.consumeUser("u1");
      await second.checkUser("u1");
      await second.consumeUser("u1");
      const refused = first.checkUser("u1");
      await expect(refused).rejects.toMatchObject({ code: "rate_limited" });
      await expect(
        refused.catch((e: { retryAfterSeconds: number }) => e.retryAfterSeconds),
      ).resolves.toBeLessThanOrEqual(60);
    });

    it("keeps the counts in Redis under its key prefix, expiring with the window", async () => {
      const keyPrefix = `test:${randomUUID()}`;
      const limiter = await sharedLimiter(url, keyPrefix);
      await limiter.consume({ userId: "u1", ip: "203.0.113.1" });
      const redis = new Redis(url);
      try {
        expect(await redis.get(`${keyPrefix}:user:u1`)).toBe("1");
        expect(await redis.get(`${keyPrefix}:ip:203.0.113.1`)).toBe("1");
        const ttl = await redis.pttl(`${keyPrefix}:user:u1`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      } finally {
        redis.disconnect();
      }
    });

    it("limits from memory during an outage, logs it once, and shares again after", async () => {
      const relay = await startRelay(new URL(url));
      try {
        const keyPrefix = `test:${randomUUID()}`;
        const logger = recordingLogger();
        const limiter = await sharedLimiter(relay.url, keyPrefix, logger);
        await limiter.consumeUser("u1");

        await relay.cut();
        // Memory knows nothing of the count in Redis: during the outage the user gets a fresh quota.
        await limiter.consumeUser("u1");
        await limiter.consumeUser("u1");
        await expect(limiter.consumeUser("u1")).rejects.toMatchObject({ code: "rate_limited" });
        await limiter.consumeIp("203.0.113.1");
        expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(1);

        await relay.restore();
        expect(await limiter.ready(15_000)).toBe(true);
        expect(logger.lines.at(-1)).toMatchObject({ level: "info" });
        expect(logger.lines.at(-1)?.msg).toContain("reachable again");
        // Back on Redis, where u1 had used one of two.
        await limiter.consumeUser("u1");
        await expect(limiter.consumeUser("u1")).rejects.toMatchObject({ code: "rate_limited" });
      } finally {
        await relay.close();
      }
    });
  },
);
