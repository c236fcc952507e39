/**
 * The only reader of process.env (DESIGN.md §8). Every variable is validated at start-up; a bad
 * value stops the server with one message naming each bad variable. Values are never echoed, so
 * a malformed secret cannot leak through the error.
 */
import path from "node:path";
import { z } from "zod";
import { supabaseUrlProblem } from "@/lib/auth/supabaseUrl";
import { lookupModel, type ModelCredits, parseModelCredits } from "@/lib/catalog";
import type { S3StoreOptions } from "@/lib/storage/s3";

/** KIE's documented hosts (kie-api.md "Hosts and auth"). */
export const KIE_DEFAULT_BASE_URL = "https://api.kie.ai";
export const KIE_DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co";
export const KIE_DEFAULT_FILE_HOSTS = [
  "tempfile.aiquickdraw.com",
  "tempfileb.aiquickdraw.com",
  "tempfile.redpandaai.co",
] as const;

const boolean = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be an integer" })
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((u) => u.replace(/\/+$/, ""));

const commaList = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
);

const hostList = commaList.pipe(
  z.array(
    z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?$/i, { error: "must be a comma list of host names" })
      .transform((h) => h.toLowerCase()),
  ),
);

const secret = z.string().min(1);

const WINDOW_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * KIE's account limit: `20` (per `defaultWindowMs`), `40/20s` (window in ms, s, m or h), or `off`.
 * At least 2: fixed windows cannot keep a limit of 1 (lib/db/kieBudget.ts planWindows).
 */
const kieLimit = (defaultWindowMs: number) =>
  z.string().transform((text, ctx) => {
    // null, not undefined: zod would put the default in place of an undefined result.
    if (text.toLowerCase() === "off") return null;
    const [, limit, amount, unit] = /^(\d+)(?:\/(\d+)(ms|s|m|h))?$/.exec(text) ?? [];
    const windowMs = unit ? Number(amount) * (WINDOW_UNITS[unit] ?? 0) : defaultWindowMs;
    if (limit !== undefined && Number(limit) >= 2 && Number(limit) <= 1_000_000 && windowMs >= 1) {
      return { limit: Number(limit), windowMs };
    }
    ctx.addIssue({
      code: "custom",
      message: "must be a number of calls (at least 2), optionally per window (e.g. 20/10s), or off",
    });
    return z.NEVER;
  });

/** A model of the catalogue (lib/catalog), by its id or a KIE id. */
const catalogModel = z
  .string()
  .min(1)
  .refine((id) => lookupModel(id) !== undefined, { error: "must name a model of lib/catalog" });

const envSchema = z.object({
  PORT: integer(1, 65535).default(3000),
  APP_URL: httpUrl.optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// connection string" })
    .optional(),
  KIE_API_KEY: secret.optional(),
  KIE_BASE_URL: httpUrl.optional(),
  KIE_UPLOAD_BASE_URL: httpUrl.optional(),
  KIE_MODEL: catalogModel.default("google/nano-banana"),
  KIE_EDIT_MODEL: catalogModel.default("google/nano-banana-edit"),
  KIE_NSFW_CHECKER: boolean.default(false),
  KIE_REQUEST_TIMEOUT_MS: integer(1, 600_000).default(30_000),
  KIE_POLL_BUDGET_MS: integer(0, 3_600_000).default(90_000),
  KIE_TIMEOUT_MS: integer(1, 86_400_000).default(180_000),
  KIE_QUEUE_MAX: integer(1, 1_000_000).default(500),
  KIE_USE_ASYNC: boolean.default(true),
  KIE_DEBUG_ROUTE: boolean.default(false),
  KIE_WEBHOOK_HMAC_KEY: secret.optional(),
  KIE_CREATE_LIMIT: kieLimit(10_000).default({ limit: 20, windowMs: 10_000 }),
  KIE_READ_LIMIT: kieLimit(1_000).default({ limit: 8, windowMs: 1_000 }),
  KIE_SIM_PORT: integer(0, 65535).default(0),
  SUPABASE_URL: httpUrl.optional(),
  SUPABASE_ANON_KEY: secret.optional(),
  SUPABASE_JWT_SECRET: secret.optional(),
  ADMIN_EMAILS: commaList.pipe(z.array(z.email({ error: "must be a comma list of emails" }))).default([]),
  CREDITS_INITIAL: integer(0, 1_000_000).default(10),
  CREDITS_PER_GENERATION: integer(0, 1_000_000).default(1),
  MODEL_CREDITS: z
    .string()
    .transform((text, ctx) => {
      const parsed = parseModelCredits(text);
      if ("credits" in parsed) return parsed.credits;
      ctx.addIssue({ code: "custom", message: parsed.problem });
      return z.NEVER;
    })
    .default({}),
  RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(10),
  RATE_LIMIT_IP_PER_MINUTE: integer(1, 1_000_000).default(60),
  API_KEY_RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(120),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: "must be a redis:// URL" })
    .optional(),
  MAX_UPLOAD_BYTES: integer(1, 100 * 1024 * 1024).default(10 * 1024 * 1024),
  UPLOADS_IN_FLIGHT_MAX: integer(1, 100_000).default(8),
  UPLOADS_PER_USER_MAX: integer(1, 100_000).default(2),
  UPLOAD_IDLE_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  UPLOADS_MIN_FREE_DISK_MB: integer(0, 1_000_000_000).default(512),
  IMAGE_PROXY_ALLOWED_HOSTS: hostList.optional(),
  METRICS_TOKEN: secret.optional(),
  CRON_SECRET: secret.optional(),
  DEV_SIGN_IN: boolean.optional(),
  ALLOW_ANONYMOUS_USERS: boolean.default(false),
  TRUSTED_PROXY_HOPS: integer(1, 20).default(1),
  HOST: z
    .string()
    .regex(/^[a-z0-9.:[\]-]+$/i, { error: "must be a host name or an IP address" })
    .optional(),
  WEB_CONCURRENCY: integer(1, 64).default(1),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  IMAGE_STORE: z.enum(["local", "s3"], { error: "must be local or s3" }).default("local"),
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_BUCKET: z.string().min(1).optional(),
  S3_ACCESS_KEY_ID: secret.optional(),
  S3_SECRET_ACCESS_KEY: secret.optional(),
  S3_FORCE_PATH_STYLE: boolean.optional(),
  S3_PRESIGNED_REDIRECT: boolean.default(true),
  IMAGE_RETENTION_DAYS: integer(1, 36_500).optional(),
  IMAGE_URL_SECRET: z.string().min(32, { error: "must be at least 32 characters" }).optional(),
  IMAGE_URL_SECRET_PREVIOUS: z.string().min(32, { error: "must be at least 32 characters" }).optional(),
});

export type KieMode = "simulator" | "kie";
export type AuthMode = "supabase" | "dev";

export interface AppConfig {
  port: number;
  /** WEB_CONCURRENCY: server processes `npm start` runs on PORT (Postgres only; scripts/start.ts). */
  webConcurrency: number;
  /** HOST: the address `npm start` binds; undefined → 127.0.0.1 with dev sign-in, all interfaces otherwise. */
  host?: string;
  appUrl?: string;
  dataDir: string;
  databaseUrl?: string;
  kie: {
    /** "simulator" when KIE_API_KEY is unset: the app talks to kie-sim. */
    mode: KieMode;
    apiKey: string;
    /**
     * Undefined in simulator mode when no KIE_BASE_URL was given: the server starts an embedded
     * kie-sim and uses its address.
     */
    baseUrl?: string;
    uploadBaseUrl?: string;
    model: string;
    editModel: string;
    /** KIE_NSFW_CHECKER: `nsfw_checker` sent to the models that document it (off by default). */
    nsfwChecker: boolean;
    requestTimeoutMs: number;
    pollBudgetMs: number;
    timeoutMs: number;
    /** KIE_QUEUE_MAX: jobs allowed to wait in line for a KIE create token (beyond: 503). */
    queueMax: number;
    useAsync: boolean;
    debugRoute: boolean;
    webhookHmacKey?: string;
    simPort: number;
    /**
     * KIE's account-wide budget, shared by every instance (KIE_CREATE_LIMIT, KIE_READ_LIMIT): at
     * most `limit` calls in any span of `windowMs`; undefined = not limited.
     */
    budget: { create?: KieLimitSetting; read?: KieLimitSetting };
  };
  auth: {
    mode: AuthMode;
    supabaseUrl?: string;
    supabaseAnonKey?: string;
    supabaseJwtSecret?: string;
    /** Supabase users only: dev sign-in never makes an admin. */
    adminEmails: string[];
    allowAnonymousUsers: boolean;
    /** DEV_SIGN_IN as given (undefined when unset); see signInConfigError. */
    devSignIn?: boolean;
  };
  /** Proxies in front that append to X-Forwarded-For (the client address is that many from the right). */
  trustedProxyHops: number;
  credits: {
    initial: number;
    perGeneration: number;
    /** MODEL_CREDITS: `model` or `model:resolution` → price; the rest costs perGeneration. */
    byModel: ModelCredits;
  };
  /** perApiKeyPerMinute: every request made with one personal API key (API_KEY_RATE_LIMIT_PER_MINUTE). */
  rateLimit: { perUserPerMinute: number; perIpPerMinute: number; perApiKeyPerMinute: number };
  redisUrl?: string;
  maxUploadBytes: number;
  /** Uploads in flight (DESIGN.md §3 "Requests"): bodies of POST /api/generate being read. */
  uploads: {
    /** UPLOADS_IN_FLIGHT_MAX: at once in this instance (beyond: 503). */
    maxInFlight: number;
    /** UPLOADS_PER_USER_MAX: at once per user in this instance (beyond: 429). */
    maxPerUser: number;
    /** UPLOAD_IDLE_TIMEOUT_MS: a body that sends nothing this long is given up (408). */
    idleTimeoutMs: number;
    /** UPLOADS_MIN_FREE_DISK_MB in bytes: below it under DATA_DIR, new uploads get 503. */
    minFreeDiskBytes: number;
  };
  imageProxyAllowedHosts: string[];
  metricsToken?: string;
  cronSecret?: string;
  logLevel: z.infer<typeof envSchema>["LOG_LEVEL"];
  images: {
    store: ImageStoreSettings;
    /**
     * S3_PRESIGNED_REDIRECT: with IMAGE_STORE=s3, `GET /api/images/:id` redirects to a short-lived
     * presigned URL (the bytes never pass through this server); false streams them instead.
     */
    presignedRedirect: boolean;
    /** IMAGE_RETENTION_DAYS: stored images older than this are deleted; undefined = kept. */
    retentionDays?: number;
    /** IMAGE_URL_SECRET: signs image links; unset → a secret kept in DATA_DIR (one host only). */
    urlSecret?: string;
    /** IMAGE_URL_SECRET_PREVIOUS: the secret before a rotation; its links (≤ 25 h) still verify. */
    previousUrlSecret?: string;
  };
}

export interface KieLimitSetting {
  limit: number;
  windowMs: number;
}

export type ImageStoreSettings = { kind: "local" } | ({ kind: "s3" } & S3StoreOptions);

/** Key the simulator accepts when the operator gave none; it is not a secret. */
export const SIMULATOR_API_KEY = "kie-sim-local-key";

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; problem: string }[]) {
    super(
      `Invalid configuration: ${problems.map((p) => `${p.variable} ${p.problem}`).join("; ")}. ` +
        "Fix these environment variables and start again.",
    );
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AppConfig {
  // An empty variable (`FOO=`) means "unset", as most operators expect.
  const present = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((key) => [key, env[key]?.trim()] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? "environment"),
      problem: issue.message,
    }));
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const problems = [...authProblems(e), ...imageStoreProblems(e)];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: e.PORT,
    webConcurrency: e.WEB_CONCURRENCY,
    host: e.HOST,
    appUrl: e.APP_URL,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    kie: kieSettings(e),
    auth: {
      mode: e.SUPABASE_URL || e.SUPABASE_JWT_SECRET ? "supabase" : "dev",
      supabaseUrl: e.SUPABASE_URL,
      supabaseAnonKey: e.SUPABASE_ANON_KEY,
      supabaseJwtSecret: e.SUPABASE_JWT_SECRET,
      adminEmails: e.ADMIN_EMAILS.map((a) => a.toLowerCase()),
      allowAnonymousUsers: e.ALLOW_ANONYMOUS_USERS,
      devSignIn: e.DEV_SIGN_IN,
    },
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    credits: {
      initial: e.CREDITS_INITIAL,
      perGeneration: e.CREDITS_PER_GENERATION,
      byModel: e.MODEL_CREDITS,
    },
    rateLimit: {
      perUserPerMinute: e.RATE_LIMIT_PER_MINUTE,
      perIpPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
      perApiKeyPerMinute: e.API_KEY_RATE_LIMIT_PER_MINUTE,
    },
    redisUrl: e.REDIS_URL,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    uploads: {
      maxInFlight: e.UPLOADS_IN_FLIGHT_MAX,
      maxPerUser: e.UPLOADS_PER_USER_MAX,
      idleTimeoutMs: e.UPLOAD_IDLE_TIMEOUT_MS,
      minFreeDiskBytes: e.UPLOADS_MIN_FREE_DISK_MB * 1024 * 1024,
    },
    imageProxyAllowedHosts: e.IMAGE_PROXY_ALLOWED_HOSTS ?? [...KIE_DEFAULT_FILE_HOSTS],
    metricsToken: e.METRICS_TOKEN,
    cronSecret: e.CRON_SECRET,
    logLevel: e.LOG_LEVEL,
    images: {
      store: imageStoreSettings(e),
      presignedRedirect: e.IMAGE_STORE === "s3" && e.S3_PRESIGNED_REDIRECT,
      retentionDays: e.IMAGE_RETENTION_DAYS,
      urlSecret: e.IMAGE_URL_SECRET,
      previousUrlSecret: e.IMAGE_URL_SECRET_PREVIOUS,
    },
  };
}

type ParsedEnv = z.infer<typeof envSchema>;

function kieSettings(e: ParsedEnv): AppConfig["kie"] {
  const mode: KieMode = e.KIE_API_KEY ? "kie" : "simulator";
  // KIE serves uploads from a host of their own; a KIE of your own (a proxy, a simulator) named by
  // KIE_BASE_URL serves both unless KIE_UPLOAD_BASE_URL says otherwise.
  const customBase = e.KIE_BASE_URL !== undefined && e.KIE_BASE_URL !== KIE_DEFAULT_BASE_URL;
  return {
    mode,
    apiKey: e.KIE_API_KEY ?? SIMULATOR_API_KEY,
    baseUrl: e.KIE_BASE_URL ?? (mode === "kie" ? KIE_DEFAULT_BASE_URL : undefined),
    uploadBaseUrl:
      e.KIE_UPLOAD_BASE_URL ??
      (customBase ? e.KIE_BASE_URL : mode === "kie" ? KIE_DEFAULT_UPLOAD_BASE_URL : undefined),
    model: e.KIE_MODEL,
    editModel: e.KIE_EDIT_MODEL,
    nsfwChecker: e.KIE_NSFW_CHECKER,
    requestTimeoutMs: e.KIE_REQUEST_TIMEOUT_MS,
    pollBudgetMs: e.KIE_POLL_BUDGET_MS,
    timeoutMs: e.KIE_TIMEOUT_MS,
    queueMax: e.KIE_QUEUE_MAX,
    useAsync: e.KIE_USE_ASYNC,
    debugRoute: e.KIE_DEBUG_ROUTE,
    webhookHmacKey: e.KIE_WEBHOOK_HMAC_KEY,
    simPort: e.KIE_SIM_PORT,
    budget: { create: e.KIE_CREATE_LIMIT ?? undefined, read: e.KIE_READ_LIMIT ?? undefined },
  };
}

function imageStoreSettings(e: ParsedEnv): ImageStoreSettings {
  if (e.IMAGE_STORE !== "s3") return { kind: "local" };
  return {
    kind: "s3",
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION,
    bucket: e.S3_BUCKET as string,
    accessKeyId: e.S3_ACCESS_KEY_ID,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    // Most S3-compatible stores (MinIO, Supabase Storage, s3rver) want path-style URLs.
    forcePathStyle: e.S3_FORCE_PATH_STYLE ?? e.S3_ENDPOINT !== undefined,
  };
}

/** SUPABASE_URL carries the signing keys (JWKS): https, or plain http only on this machine. */
function authProblems(e: ParsedEnv): { variable: string; problem: string }[] {
  const problem = e.SUPABASE_URL ? supabaseUrlProblem(e.SUPABASE_URL) : undefined;
  return problem ? [{ variable: "SUPABASE_URL", problem }] : [];
}

/**
 * Sign-in fails closed (DESIGN.md §6): dev sign-in lets anyone in as anyone, so beside a real KIE
 * key (real money) or a real database the server needs an explicit DEV_SIGN_IN=true to start.
 * Checked where a server starts (createApp, npm start), not by tools such as the credits CLI.
 */
export function signInConfigError(config: AppConfig): ConfigError | undefined {
  if (config.auth.mode !== "dev") return undefined;
  if (config.auth.devSignIn === false) {
    return new ConfigError([
      { variable: "DEV_SIGN_IN", problem: "is false, but no Supabase sign-in is configured" },
    ]);
  }
  if (config.auth.devSignIn !== true && (config.kie.mode === "kie" || config.databaseUrl)) {
    return new ConfigError([
      {
        variable: "DEV_SIGN_IN",
        problem:
          "must be true to run dev sign-in (anyone signs in as anyone) with KIE_API_KEY or DATABASE_URL set; " +
          "configure Supabase (SUPABASE_URL or SUPABASE_JWT_SECRET) instead for real users",
      },
    ]);
  }
  return undefined;
}

/**
 * Several server processes (WEB_CONCURRENCY > 1) are several instances on one machine: they need
 * what instances share — Postgres (PGlite is one process per data folder, STACK.md) and a KIE
 * every process reaches (the embedded simulator lives inside one process; its tasks are unknown
 * to the others).
 */
export function concurrencyConfigError(config: AppConfig): ConfigError | undefined {
  if (config.webConcurrency === 1) return undefined;
  if (!config.databaseUrl) {
    return new ConfigError([
      {
        variable: "WEB_CONCURRENCY",
        problem:
          "above 1 needs DATABASE_URL (Postgres): the embedded database (PGlite) is opened by one process only; unset WEB_CONCURRENCY or set DATABASE_URL",
      },
    ]);
  }
  if (config.kie.mode === "simulator" && !config.kie.baseUrl) {
    return new ConfigError([
      {
        variable: "WEB_CONCURRENCY",
        problem:
          "above 1 needs KIE_API_KEY, or KIE_BASE_URL naming a simulator of its own (`npm run sim`): the embedded simulator lives in one process",
      },
    ]);
  }
  return undefined;
}

/**
 * What several processes without REDIS_URL mean, said at start-up rather than found out: each keeps
 * its own per-user, per-IP and per-key rate limits in memory, so a user gets up to N times the limit.
 */
export function concurrencyWarning(config: AppConfig): string | undefined {
  if (config.webConcurrency === 1 || config.redisUrl) return undefined;
  return `WEB_CONCURRENCY=${config.webConcurrency} without REDIS_URL: each process keeps its own rate limits, so a user, an address or a key gets up to ${config.webConcurrency} times RATE_LIMIT_PER_MINUTE, RATE_LIMIT_IP_PER_MINUTE and API_KEY_RATE_LIMIT_PER_MINUTE; set REDIS_URL to share them.`;
}

/**
 * Image links are signed with IMAGE_URL_SECRET or else a secret kept in DATA_DIR, which is one
 * host's own. With a shared database or S3 store (several instances), a link made by one would
 * fail on the others, and the file secret would be copied around by hand: the variable is
 * required there. Checked where a server starts, like signInConfigError.
 */
export function imageSecretConfigError(config: AppConfig): ConfigError | undefined {
  if (config.images.urlSecret || (!config.databaseUrl && config.images.store.kind !== "s3")) {
    return undefined;
  }
  return new ConfigError([
    {
      variable: "IMAGE_URL_SECRET",
      problem:
        "is required with DATABASE_URL or IMAGE_STORE=s3 (every instance must sign image links with the same secret)",
    },
  ]);
}

/** IMAGE_STORE=s3 needs a bucket, and the two keys together or neither (then AWS's default chain). */
function imageStoreProblems(e: ParsedEnv): { variable: string; problem: string }[] {
  if (e.IMAGE_STORE !== "s3") return [];
  const problems: { variable: string; problem: string }[] = [];
  if (!e.S3_BUCKET) problems.push({ variable: "S3_BUCKET", problem: "is required when IMAGE_STORE=s3" });
  if (!e.S3_ACCESS_KEY_ID !== !e.S3_SECRET_ACCESS_KEY) {
    problems.push({
      variable: e.S3_ACCESS_KEY_ID ? "S3_SECRET_ACCESS_KEY" : "S3_ACCESS_KEY_ID",
      problem: "must be set together with its pair",
    });
  }
  return problems;
}

const cache = globalThis as typeof globalThis & { __nanoBananaConfig?: AppConfig };

/** The process-wide config, validated once. Throws ConfigError on a bad environment. */
export function getConfig(): AppConfig {
  cache.__nanoBananaConfig ??= loadConfig();
  return cache.__nanoBananaConfig;
}
