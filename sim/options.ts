/**
 * startKieSim's options, checked and given their defaults once (sim/README.md "Embedding"). A bad
 * option throws KieSimOptionsError naming it.
 */

import { createHash } from "node:crypto";
import { normalizeFaultRules } from "./faultSyntax";
import type { FaultRule } from "./faults";
import type { EndpointLimitSettings } from "./rateLimit";
import type { KieSimLogger } from "./taskRecord";
import type { KieSimOptions } from "./types";

export class KieSimOptionsError extends Error {
  constructor(message: string) {
    super(`kie-sim options: ${message}`);
    this.name = "KieSimOptionsError";
  }
}

const MIB = 1024 * 1024;

export function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new KieSimOptionsError(`${name} must be a number >= 0`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new KieSimOptionsError(`${name} must be an integer >= 1`);
  return value;
}

const consoleLogger: KieSimLogger = {
  info: (fields, message) => console.log(`[kie-sim] ${message}`, JSON.stringify(fields)),
  warn: (fields, message) => console.warn(`[kie-sim] ${message}`, JSON.stringify(fields)),
  error: (fields, message) => console.error(`[kie-sim] ${message}`, JSON.stringify(fields)),
};

const silentLogger: KieSimLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** The options with every default filled in and every value checked. */
export interface SimSettings {
  host: string;
  port: number;
  publicUrl?: string;
  ownResultUrls?: boolean;
  /** Accepted Bearer keys; undefined = any non-empty one. */
  apiKeys?: Buffer[];
  stepMs: number;
  recordDelayMs: number;
  webhookHmacKey?: string;
  /** The global fault rules to start with. */
  faultRules: FaultRule[];
  logger: KieSimLogger;
  accountCredits: number;
  imageScale: number;
  maxTasks: number;
  maxStoredBytes: number;
  maxUploadBytes: number;
  fetchTimeoutMs: number;
  trustedFetchOrigins: readonly string[];
  callbackTimeoutMs: number;
  /** KIE's limits, per API key; without a `limit` the calls are only counted (over KIE's window). */
  limits: { createTask: EndpointLimitSettings; recordInfo: EndpointLimitSettings };
  /** Served only with a controlKey (its sha256, compared in constant time: control.ts). */
  controlApi: boolean;
  controlKeyHash?: Buffer;
  random: () => number;
}

function apiKeys(keys: readonly string[] | undefined): Buffer[] | undefined {
  if (!keys) return undefined;
  if (keys.length === 0 || keys.some((k) => k.trim() === "")) {
    throw new KieSimOptionsError("apiKeys must be non-empty strings");
  }
  return keys.map((k) => Buffer.from(k));
}

function controlKeyHash(key: string | undefined): Buffer | undefined {
  if (key === undefined) return undefined;
  if (key.trim().length < 16) throw new KieSimOptionsError("controlKey must be at least 16 characters");
  return createHash("sha256").update(key).digest();
}

/** KIE's windows, used to count calls when no limit is set: 20 creates per 10 s, reads per second. */
const KIE_WINDOW_MS = { createTask: 10_000, recordInfo: 1_000 } as const;

function rateLimit(
  name: keyof typeof KIE_WINDOW_MS,
  limit: KieSimOptions["createTaskRateLimit"],
): EndpointLimitSettings {
  if (!limit) return { windowMs: KIE_WINDOW_MS[name], retryAfter: true };
  return {
    limit: positiveInteger(`${name}RateLimit.limit`, limit.limit ?? 0),
    windowMs: positiveInteger(`${name}RateLimit.windowMs`, limit.windowMs ?? 0),
    retryAfter: limit.retryAfter !== false,
  };
}

/** Checks in the order the options were always checked, so the first bad one is the one named. */
export function resolveOptions(options: KieSimOptions): SimSettings {
  const logger = options.logger === false ? silentLogger : (options.logger ?? consoleLogger);
  const random = options.random ?? Math.random;
  const stepMs = nonNegative("stepMs", options.stepMs ?? 400);
  const maxUploadBytes = positiveInteger("maxUploadBytes", options.maxUploadBytes ?? 30 * MIB);
  const fetchTimeoutMs = positiveInteger("fetchTimeoutMs", options.fetchTimeoutMs ?? 30_000);
  const imageScale = options.imageScale ?? 1;
  if (!(imageScale > 0 && imageScale <= 1)) throw new KieSimOptionsError("imageScale must be in (0, 1]");
  const accountCredits = nonNegative("accountCredits", options.accountCredits ?? 1_000_000);
  const keys = apiKeys(options.apiKeys);
  const limits = {
    createTask: rateLimit("createTask", options.createTaskRateLimit),
    recordInfo: rateLimit("recordInfo", options.recordInfoRateLimit),
  };
  const faultRules = options.faults ? normalizeFaultRules(options.faults, "options.faults") : [];
  return {
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    publicUrl: options.publicUrl,
    ownResultUrls: options.ownResultUrls,
    apiKeys: keys,
    stepMs,
    webhookHmacKey: options.webhookHmacKey,
    faultRules,
    logger,
    accountCredits,
    imageScale,
    maxTasks: positiveInteger("maxTasks", options.maxTasks ?? 5000),
    maxStoredBytes: positiveInteger("maxStoredBytes", options.maxStoredBytes ?? 256 * MIB),
    recordDelayMs: nonNegative("recordDelayMs", options.recordDelayMs ?? 150),
    maxUploadBytes,
    fetchTimeoutMs,
    trustedFetchOrigins: options.trustedFetchOrigins ?? [],
    callbackTimeoutMs: positiveInteger("callbackTimeoutMs", options.callbackTimeoutMs ?? 10_000),
    limits,
    controlApi: options.controlApi !== false && options.controlKey !== undefined,
    controlKeyHash: controlKeyHash(options.controlKey),
    random,
  };
}
