import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/http/errors";
import { clientIp, createRateLimiter, ipBucket, type RateLimiter } from "@/lib/http/rateLimit";

function recordingLogger() {
  const lines: { level: "info" | "warn"; obj: object; msg?: string }[] = [];
  return {
    lines,
    info: (obj: object, msg?: string) => lines.push({ level: "info", obj, msg }),
    warn: (obj: object, msg?: string) => lines.push({ level: "warn", obj, msg }),
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

const limiters: RateLimiter[] = [];
function limiter(options: Partial<Parameters<typeof createRateLimiter>[0]> = {}): RateLimiter {
  const created = createRateLimiter({
    perUserPerMinute: 3,
    perIpPerMinute: 100,
    logger: recordingLogger(),
    ...options,
  });
  limiters.push(created);
  return created;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

describe("createRateLimiter (memory)", () => {
  it("allows N requests per user per minute, then answers 429 with Retry-After", async () => {
    const limits = limiter({ perUserPerMinute: 3 });
    for (let i = 0; i < 3; i++) await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    const refused = await rejectionOf(limits.consume({ userId: "u1", ip: "203.0.113.1" }));
    expect(refused).toBeInstanceOf(ApiError);
    const { code, retryAfterSeconds } = refused as ApiError;
    expect(code).toBe("rate_limited");
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    expect((refused as ApiError).message).toContain(`${retryAfterSeconds} s`);
  });

  it("opens again when the minute is over", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const limits = limiter({ perUserPerMinute: 1 });
    await limits.consumeUser("u1");
    await expect(limits.consumeUser("u1")).rejects.toMatchObject({ code: "rate_limited" });
    vi.advanceTimersByTime(60_000);
    await expect(limits.consumeUser("u1")).resolves.toBeUndefined();
  });

  it("limits each user on their own, whatever the address", async () => {
    const limits = limiter({ perUserPerMinute: 2, perIpPerMinute: 100 });
    await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    await limits.consume({ userId: "u1", ip: "203.0.113.2" });
    await expect(limits.consume({ userId: "u1", ip: "203.0.113.3" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.1" })).resolves.toBeUndefined();
  });

  it("limits each address on its own, signed in or not", async () => {
    const limits = limiter({ perUserPerMinute: 100, perIpPerMinute: 2 });
    await limits.consume({ ip: "203.0.113.1" });
    await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.1" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    await expect(limits.consume({ ip: "203.0.113.1" })).rejects.toMatchObject({ code: "rate_limited" });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.9" })).resolves.toBeUndefined();
  });

  it("checks the address first: a request refused for its address uses none of the user's quota", async () => {
    const limits = limiter({ perUserPerMinute: 1, perIpPerMinute: 1 });
    await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.1" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.2" })).resolves.toBeUndefined();
  });

  it("checkUser refuses a used-up user without counting anything", async () => {
    const limits = limiter({ perUserPerMinute: 2 });
    await limits.checkUser("u1");
    await limits.checkUser("u1");
    await limits.checkUser("u1");
    await limits.consumeUser("u1");
    await limits.checkUser("u1");
    await limits.consumeUser("u1");
    const refused = await rejectionOf(limits.checkUser("u1"));
    expect(refused).toMatchObject({ code: "rate_limited" });
    expect((refused as ApiError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it("puts the addresses of one IPv6 /64 in one bucket", async () => {
    const limits = limiter({ perIpPerMinute: 1 });
    await limits.consumeIp("2001:db8:1:2::1");
    await expect(limits.consumeIp("2001:db8:1:2:ffff::9")).rejects.toMatchObject({ code: "rate_limited" });
    await expect(limits.consumeIp("2001:db8:1:3::1")).resolves.toBeUndefined();
  });

  it("is ready at once", async () => {
    expect(await limiter().ready(1)).toBe(true);
  });

  it("refuses limits that are not positive integers", () => {
    expect(() => limiter({ perUserPerMinute: 0 })).toThrow(RangeError);
    expect(() => limiter({ perIpPerMinute: 1.5 })).toThrow(RangeError);
    expect(() => limiter({ perApiKeyPerMinute: 0 })).toThrow(RangeError);
  });

  it("limits each personal API key on its own: 120 a minute unless set (issue 29)", async () => {
    const byDefault = limiter();
    for (let i = 0; i < 120; i++) await byDefault.consumeApiKey("k1");
    const refused = (await rejectionOf(byDefault.consumeApiKey("k1"))) as Error;
    expect(refused).toMatchObject({ code: "rate_limited" });
    expect(refused.message).toMatch(/API key/);
    await byDefault.consumeApiKey("k2");
    await byDefault.consumeUser("k1"); // the user's bucket is another one
    const two = limiter({ perApiKeyPerMinute: 2 });
    await two.consumeApiKey("k1");
    await two.consumeApiKey("k1");
    await expect(two.consumeApiKey("k1")).rejects.toMatchObject({ code: "rate_limited" });
  });
});

describe("createRateLimiter with Redis down (insurance)", () => {
  it("still limits, from memory, logs the outage once, and throws nothing else", async () => {
    const logger = recordingLogger();
    const limits = limiter({
      redis: { url: "redis://127.0.0.1:1" },
      perUserPerMinute: 2,
      perIpPerMinute: 100,
      logger,
    });
    expect(await limits.ready(50)).toBe(false);
    await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    await limits.checkUser("u1");
    await limits.consume({ userId: "u1", ip: "203.0.113.1" });
    const refused = await rejectionOf(limits.consume({ userId: "u1", ip: "203.0.113.1" }));
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: "rate_limited" });
    await expect(limits.consume({ userId: "u2", ip: "203.0.113.1" })).resolves.toBeUndefined();

    const warnings = logger.lines.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain("Redis is unavailable");
  });
});

describe("clientIp", () => {
  const withHeaders = (headers: Record<string, string>) => new Request("http://localhost/", { headers });

  it("takes the X-Forwarded-For entry TRUSTED_PROXY_HOPS from the right, never the client-written left", () => {
    // The client wrote "6.6.6.6"; the one proxy in front appended the address it saw.
    const forged = withHeaders({ "x-forwarded-for": "6.6.6.6, 203.0.113.7" });
    expect(clientIp(forged)).toBe("203.0.113.7");
    expect(clientIp(forged, 1)).toBe("203.0.113.7");
    // Three proxies (CDN → load balancer → nginx): the client is three from the right.
    const chain = withHeaders({ "x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.0.0.1, 10.0.0.2" });
    expect(clientIp(chain, 3)).toBe("203.0.113.7");
    // Fewer entries than proxies: the request skipped some; the leftmost is all there is.
    expect(clientIp(withHeaders({ "x-forwarded-for": "203.0.113.7" }), 2)).toBe("203.0.113.7");
    expect(clientIp(withHeaders({ "x-forwarded-for": " 2001:DB8::1 " }))).toBe("2001:db8::1");
  });

  it("drops a port a proxy may have added", () => {
    expect(clientIp(withHeaders({ "x-forwarded-for": "203.0.113.7:51234" }))).toBe("203.0.113.7");
    expect(clientIp(withHeaders({ "x-forwarded-for": "[2001:db8::1]:443" }))).toBe("2001:db8::1");
  });

  it("falls back to X-Real-IP, then to unknown", () => {
    expect(clientIp(withHeaders({ "x-real-ip": "198.51.100.4" }))).toBe("198.51.100.4");
    expect(clientIp(withHeaders({ "x-forwarded-for": "not-an-ip", "x-real-ip": "198.51.100.4" }))).toBe(
      "198.51.100.4",
    );
    expect(clientIp(withHeaders({}))).toBe("unknown");
    expect(clientIp(withHeaders({ "x-forwarded-for": "<script>" }))).toBe("unknown");
  });
});

describe("ipBucket", () => {
  it("keeps IPv4, unwraps IPv4-mapped IPv6 and groups IPv6 by /64", () => {
    expect(ipBucket("203.0.113.7")).toBe("203.0.113.7");
    expect(ipBucket("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(ipBucket("2001:db8:0001:0002:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(ipBucket("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipBucket("::1")).toBe("0:0:0:0::/64");
    expect(ipBucket("unknown")).toBe("unknown");
  });
});
