/**
 * Rate limits for generate requests (DESIGN.md §2, §3): RATE_LIMIT_PER_MINUTE per user and
 * RATE_LIMIT_IP_PER_MINUTE per client address, fixed one-minute windows. Over a limit → 429
 * `rate_limited` with Retry-After.
 *
 * Store: in-process memory by default (one instance); with REDIS_URL the counts are shared by every
 * instance. A Redis outage must not fail requests: each Redis limiter has an in-memory insurance
 * limiter that takes over while Redis is unreachable, so limits become per instance (N instances
 * allow up to N× the limit) until Redis answers again. That is logged once per outage.
 */
import { isIP } from "node:net";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { ApiError } from "./errors";

const WINDOW_SECONDS = 60;
const DEFAULT_PER_API_KEY = 120;

/** The logger calls this module makes (a pino logger fits). */
export interface RateLimitLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RateLimiterOptions {
  /** Shared store (REDIS_URL); undefined keeps the counts in this process. */
  redis?: { url: string } | undefined;
  perUserPerMinute: number;
  perIpPerMinute: number;
  /** Requests per personal API key, every route (API_KEY_RATE_LIMIT_PER_MINUTE); default 120. */
  perApiKeyPerMinute?: number;
  logger: RateLimitLogger;
  /** Namespace of the Redis keys; default "nano-banana:rl". */
  keyPrefix?: string;
  /** Redis connect timeout; default 2000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for one Redis command before the insurance limiter answers; default 500 ms. */
  commandTimeoutMs?: number;
}

export interface RateLimiter {
  /** Counts one request against the IP's limit, then the user's (when given): both must pass. */
  consume(subject: { userId?: string; ip: string }): Promise<void>;
  /**
   * Counts one request against the client address's limit (RATE_LIMIT_IP_PER_MINUTE). Each use has
   * its own bucket, so viewing images or signing in does not use up an address's generations.
   */
  consumeIp(ip: string, use?: IpLimitedUse): Promise<void>;
  /** Counts one request (or `points` generations: a batch of `n`) against the user's limit. */
  consumeUser(userId: string, points?: number): Promise<void>;
  /** Counts one request made with a personal API key against that key's own limit. */
  consumeApiKey(keyId: string): Promise<void>;
  /** 429 when the user's limit for this window is already used up; counts nothing. */
  checkUser(userId: string): Promise<void>;
  /**
   * Resolves true once the counts are shared (Redis connected; at once for the memory store), or
   * false after `timeoutMs`. Start-up may await it so the first requests are counted in Redis.
   */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** What an address is limited on, each with its own bucket of RATE_LIMIT_IP_PER_MINUTE. */
export type IpLimitedUse = "generate" | "sign-in" | "image-proxy";

const IP_LIMIT_MESSAGES: Record<IpLimitedUse, string> = {
  generate: "Too many requests from your network.",
  "sign-in": "Too many sign-ins from your network.",
  "image-proxy": "Too many image requests from your network.",
};

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  for (const [name, value] of [
    ["perUserPerMinute", options.perUserPerMinute],
    ["perIpPerMinute", options.perIpPerMinute],
    ["perApiKeyPerMinute", options.perApiKeyPerMinute ?? DEFAULT_PER_API_KEY],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  const keyPrefix = options.keyPrefix ?? "nano-banana:rl";
  const store = options.redis
    ? redisStore(options.redis.url, options)
    : { limiter: memoryLimiter, ready: async () => true, close: async () => {} };
  const ipLimiters: Record<IpLimitedUse, Limiter> = {
    generate: store.limiter(`${keyPrefix}:ip`, options.perIpPerMinute),
    "sign-in": store.limiter(`${keyPrefix}:ip-signin`, options.perIpPerMinute),
    "image-proxy": store.limiter(`${keyPrefix}:ip-proxy`, options.perIpPerMinute),
  };
  const userLimiter = store.limiter(`${keyPrefix}:user`, options.perUserPerMinute);
  const apiKeyLimiter = store.limiter(`${keyPrefix}:key`, options.perApiKeyPerMinute ?? DEFAULT_PER_API_KEY);

  const consumeIp = (ip: string, use: IpLimitedUse = "generate") =>
    consumeOrThrow(ipLimiters[use], ipBucket(ip), IP_LIMIT_MESSAGES[use]);
  const consumeUser = (userId: string, points = 1) =>
    consumeOrThrow(userLimiter, userId, "You have reached your limit of generations per minute.", points);

  return {
    async consume({ userId, ip }) {
      // The address first: a caller without a valid token is limited too, and an address that is
      // over its limit does not use up the user's quota.
      await consumeIp(ip);
      if (userId !== undefined) await consumeUser(userId);
    },
    consumeIp,
    consumeUser,
    consumeApiKey: (keyId) =>
      consumeOrThrow(apiKeyLimiter, keyId, "This API key has reached its limit of requests per minute."),
    async checkUser(userId) {
      const used = await userLimiter.get(userId);
      if (used && used.consumedPoints >= options.perUserPerMinute) {
        throw rateLimited("You have reached your limit of generations per minute.", used.msBeforeNext);
      }
    },
    ready: (timeoutMs = 2000) => store.ready(timeoutMs),
    close: store.close,
  };
}

type Limiter = RateLimiterMemory | RateLimiterRedis;

function memoryLimiter(keyPrefix: string, points: number): RateLimiterMemory {
  return new RateLimiterMemory({ keyPrefix, points, duration: WINDOW_SECONDS });
}

function redisStore(url: string, options: RateLimiterOptions) {
  const { logger } = options;
  const client = new Redis(url, {
    // Fail fast instead of queueing while disconnected: the insurance limiter answers meanwhile.
    enableOfflineQueue: false,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 500,
    maxRetriesPerRequest: 0,
    // Keep reconnecting in the background, at most every 5 s.
    retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
  });
  let degraded = false;
  let lastError: Error | undefined;
  // Without an error listener ioredis prints every failed reconnect; the outage is logged once below.
  client.on("error", (error: Error) => {
    lastError = error;
  });
  client.on("ready", () => {
    if (!degraded) return;
    degraded = false;
    logger.info({}, "rate limits: Redis is reachable again, limits are shared across instances again");
  });
  const onFallback = () => {
    if (degraded) return;
    degraded = true;
    logger.warn(
      { redisStatus: client.status, err: lastError?.message },
      "rate limits: Redis is unavailable, limiting per instance in memory until it is back",
    );
  };

  return {
    limiter: (keyPrefix: string, points: number): RateLimiterRedis =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix,
        points,
        duration: WINDOW_SECONDS,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new InsuranceLimiter({ keyPrefix, points, duration: WINDOW_SECONDS }, onFallback),
      }),
    ready: (timeoutMs: number) =>
      new Promise<boolean>((resolve) => {
        if (client.status === "ready") return resolve(true);
        const done = (value: boolean) => {
          clearTimeout(timer);
          client.off("ready", onReady);
          resolve(value);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        timer.unref();
        client.on("ready", onReady);
      }),
    close: async () => {
      if (client.status === "ready") {
        await client.quit().catch(() => client.disconnect());
      } else {
        client.disconnect();
      }
    },
  };
}

/** The in-memory stand-in for Redis; tells its owner whenever it has to answer. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(...args: Parameters<RateLimiterMemory["consume"]>) {
    this.onUse();
    return super.consume(...args);
  }

  override get(...args: Parameters<RateLimiterMemory["get"]>) {
    this.onUse();
    return super.get(...args);
  }
}

async function consumeOrThrow(limiter: Limiter, key: string, message: string, points = 1): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    // A refused consume still added its points to the window: given back, a refused batch of n
    // uses none of what is left (else n = 4 with 2 left would spend those 2 on a 429). Best effort.
    if (points > 1) await limiter.reward(key, points).catch(() => {});
    throw rateLimited(message, rejection.msBeforeNext);
  }
}

function rateLimited(message: string, msBeforeNext: number): ApiError {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new ApiError("rate_limited", `${message} Try again in ${retryAfterSeconds} s.`, {
    retryAfterSeconds,
  });
}

/**
 * The client's address, for per-IP limits and logs (DESIGN.md §6): the X-Forwarded-For entry
 * `trustedProxyHops` places from the right. Each proxy appends the address it saw, so entries to
 * the left of that are whatever the client sent and prove nothing; the leftmost is the easiest to
 * forge. Default 1: one proxy in front (Vercel, nginx, a load balancer).
 *
 * Next.js itself only fills X-Forwarded-For in when the request has none. So a server exposed with
 * no proxy in front sees a list the client wrote, and a client can pick its own per-IP bucket
 * there; the per-user limit still holds. Put a proxy in front of any public deployment.
 * Returns "unknown" when the header holds no address there (all such requests share one bucket).
 */
export function clientIp(request: Request, trustedProxyHops = 1): string {
  const entries = (request.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) return normalizeIp(request.headers.get("x-real-ip")) ?? "unknown";
  // Fewer entries than proxies: the request came past fewer proxies than configured; the leftmost is the best there is.
  const index = Math.max(0, entries.length - trustedProxyHops);
  return normalizeIp(entries[index]) ?? normalizeIp(request.headers.get("x-real-ip")) ?? "unknown";
}

function normalizeIp(raw: string | null | undefined): string | undefined {
  let value = raw?.trim();
  if (!value) return undefined;
  // Some proxies add the port: "203.0.113.7:51234", "[2001:db8::1]:443".
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(":"));
  return isIP(value) === 0 ? undefined : value.toLowerCase();
}

/**
 * The per-IP bucket: an IPv4 address itself; for IPv6 its /64, since one subscriber usually holds
 * a whole /64 and could otherwise rotate through addresses to escape the limit.
 */
export function ipBucket(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip);
  return `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIpv6(ip: string): string[] {
  const [head = "", tail] = ip.toLowerCase().split("::");
  const parse = (part: string) => (part ? part.split(":").flatMap(ipv6Group) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => "0");
  return [...left, ...zeros, ...right];
}

/** One hextet, normalized ("00ab" → "ab"); an embedded IPv4 tail becomes two. */
function ipv6Group(group: string): string[] {
  if (!group.includes(".")) return [Number.parseInt(group, 16).toString(16)];
  const [a, b, c, d] = group.split(".").map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
