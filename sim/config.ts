/**
 * kie-sim's own environment (the simulator is a separate program; the app's config.ts does not
 * read these). Every variable is validated; a bad value stops start-up with one message naming
 * each bad variable. Secret values are never echoed.
 */
import { z } from "zod";
import { normalizeFaultRules } from "./faultSyntax";
import { KieSimFaultSyntaxError } from "./faults";
import type { KieSimOptions } from "./server";

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be an integer" })
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const commaList = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
);

const boolean = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const WINDOW_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `20/10s`: requests per window (window in ms, s or m), both at least 1. */
const rateLimit = z.string().transform((text, ctx) => {
  const [, limit, amount, unit] = /^(\d+)\/(\d+)(ms|s|m)$/.exec(text) ?? [];
  const windowMs = Number(amount) * (WINDOW_UNITS[unit ?? ""] ?? 0);
  if (Number(limit) >= 1 && windowMs >= 1) return { limit: Number(limit), windowMs };
  ctx.addIssue({ code: "custom", message: "must look like 20/10s (requests/window; window in ms, s or m)" });
  return z.NEVER;
});

const envSchema = z.object({
  KIE_SIM_PORT: integer(0, 65535).default(8787),
  KIE_SIM_HOST: z.string().min(1).default("127.0.0.1"),
  KIE_SIM_PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .transform((u) => u.replace(/\/+$/, ""))
    .optional(),
  KIE_SIM_API_KEYS: commaList
    .pipe(z.array(z.string()).min(1, { error: "must list at least one key" }))
    .optional(),
  KIE_SIM_STEP_MS: integer(0, 600_000).default(400),
  KIE_SIM_RECORD_DELAY_MS: integer(0, 600_000).default(150),
  KIE_SIM_FAULTS: z
    .string()
    .superRefine((value, ctx) => {
      try {
        normalizeFaultRules(value, "rules");
      } catch (error) {
        if (!(error instanceof KieSimFaultSyntaxError)) throw error;
        ctx.addIssue({ code: "custom", message: error.message });
      }
    })
    .optional(),
  KIE_SIM_LATENCY_MS: integer(0, 600_000).optional(),
  KIE_SIM_WEBHOOK_HMAC_KEY: z.string().min(1).optional(),
  KIE_SIM_ACCOUNT_CREDITS: integer(0, Number.MAX_SAFE_INTEGER).optional(),
  KIE_SIM_IMAGE_SCALE: z.coerce
    .number({ error: "must be a number" })
    .gt(0, { error: "must be greater than 0" })
    .max(1, { error: "must be at most 1" })
    .optional(),
  KIE_SIM_MAX_TASKS: integer(1, 10_000_000).optional(),
  KIE_SIM_MAX_STORED_MB: integer(1, 1_000_000).optional(),
  KIE_SIM_MAX_UPLOAD_MB: integer(1, 10_000).optional(),
  KIE_SIM_RATE_LIMIT: rateLimit.optional(),
  KIE_SIM_READ_RATE_LIMIT: rateLimit.optional(),
  KIE_SIM_RATE_LIMIT_RETRY_AFTER: boolean.default(true),
  KIE_SIM_CONTROL_API: boolean.default(true),
  KIE_SIM_CONTROL_KEY: z.string().min(16, { error: "must be at least 16 characters" }).optional(),
  KIE_SIM_LOG_LEVEL: z.enum(["info", "warn", "error", "silent"]).default("info"),
});

export type KieSimLogLevel = z.infer<typeof envSchema>["KIE_SIM_LOG_LEVEL"];

export class KieSimConfigError extends Error {
  constructor(readonly problems: { variable: string; problem: string }[]) {
    super(
      `Invalid kie-sim configuration: ${problems.map((p) => `${p.variable} ${p.problem}`).join("; ")}. ` +
        "Fix these environment variables and start again.",
    );
    this.name = "KieSimConfigError";
  }
}

export interface KieSimConfig {
  options: KieSimOptions;
  logLevel: KieSimLogLevel;
}

/** Reads KIE_SIM_* from `env` into startKieSim options (the logger is left to the caller). */
export function loadKieSimConfig(env: Record<string, string | undefined>): KieSimConfig {
  const present = Object.fromEntries(
    Object.keys(envSchema.shape)
      .map((key) => [key, env[key]?.trim()] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new KieSimConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "environment"),
        problem: issue.message,
      })),
    );
  }
  const e = parsed.data;
  const faults = [e.KIE_SIM_FAULTS, e.KIE_SIM_LATENCY_MS ? `*:latency=${e.KIE_SIM_LATENCY_MS}` : undefined]
    .filter(Boolean)
    .join(",");
  const retryAfter = e.KIE_SIM_RATE_LIMIT_RETRY_AFTER;
  const limited = (limit: { limit: number; windowMs: number } | undefined) =>
    limit && { ...limit, retryAfter };
  return {
    logLevel: e.KIE_SIM_LOG_LEVEL,
    options: {
      port: e.KIE_SIM_PORT,
      host: e.KIE_SIM_HOST,
      publicUrl: e.KIE_SIM_PUBLIC_URL,
      apiKeys: e.KIE_SIM_API_KEYS,
      stepMs: e.KIE_SIM_STEP_MS,
      recordDelayMs: e.KIE_SIM_RECORD_DELAY_MS,
      faults: faults || undefined,
      webhookHmacKey: e.KIE_SIM_WEBHOOK_HMAC_KEY,
      accountCredits: e.KIE_SIM_ACCOUNT_CREDITS,
      imageScale: e.KIE_SIM_IMAGE_SCALE,
      maxTasks: e.KIE_SIM_MAX_TASKS,
      maxStoredBytes: e.KIE_SIM_MAX_STORED_MB ? e.KIE_SIM_MAX_STORED_MB * 1024 * 1024 : undefined,
      maxUploadBytes: e.KIE_SIM_MAX_UPLOAD_MB ? e.KIE_SIM_MAX_UPLOAD_MB * 1024 * 1024 : undefined,
      createTaskRateLimit: limited(e.KIE_SIM_RATE_LIMIT),
      recordInfoRateLimit: limited(e.KIE_SIM_READ_RATE_LIMIT),
      controlApi: e.KIE_SIM_CONTROL_API,
      controlKey: e.KIE_SIM_CONTROL_KEY,
    },
  };
}
