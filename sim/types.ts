/**
 * kie-sim's public types: the options startKieSim takes and the handle it returns (sim/README.md
 * "Embedding"). server.ts re-exports them.
 */
import type { KieSimEndpoint, KieSimFaultRuleInput } from "./faults";
import type { KieSimLimitSnapshot } from "./rateLimit";
import type { KieRecordData, KieSimLogger } from "./taskRecord";

export interface KieSimOptions {
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Base of the file and result URLs the sim hands out; default its own address. */
  publicUrl?: string;
  /**
   * Result URLs on the sim's own address even with a publicUrl (as real KIE serves results from
   * another host than uploads): tests whose uploads name a host nobody resolves, while the app
   * still copies the results.
   */
  ownResultUrls?: boolean;
  /** When given, only these Bearer keys are accepted; otherwise any non-empty Bearer token. */
  apiKeys?: readonly string[];
  /** Time per state step (waiting → queuing → generating → final). Default 400 ms. */
  stepMs?: number;
  /** How long recordInfo answers "recordInfo is null" after createTask. Default 150 ms. */
  recordDelayMs?: number;
  /** When set, callbacks carry X-Webhook-Timestamp and X-Webhook-Signature (kie-api.md). */
  webhookHmacKey?: string;
  /** Global fault rules (README "Fault rules"), as the string grammar or a list. */
  faults?: string | readonly (string | KieSimFaultRuleInput)[];
  /** pino-compatible `(fields, message)` logger; false for silence. Default: console. */
  logger?: KieSimLogger | false;
  /** KIE credits on the simulated account (GET /api/v1/chat/credit). Default 1,000,000. */
  accountCredits?: number;
  /** Shrinks every generated image by this factor (0–1], for fast tests. Default 1. */
  imageScale?: number;
  /** Tasks kept in memory before the oldest are forgotten. Default 5000. */
  maxTasks?: number;
  /** Bytes of uploaded files and results kept before the oldest are dropped. Default 256 MiB. */
  maxStoredBytes?: number;
  /** Largest file an upload endpoint accepts. Default 30 MiB. */
  maxUploadBytes?: number;
  /** Time limit for fetching image_urls and fileUrl sources. Default 30 s (KIE's own limit). */
  fetchTimeoutMs?: number;
  /**
   * Origins image_urls / fileUrl may be fetched from although they resolve to loopback or private
   * addresses (a test's stand-in for "some other host"). Everything else goes through the address
   * guard (fetchGuard.ts). Never from user input.
   */
  trustedFetchOrigins?: readonly string[];
  /** Time limit for one callback POST. Default 10 s. */
  callbackTimeoutMs?: number;
  /**
   * KIE's documented limit is about 20 createTask per 10 s per API key; off unless given. Beyond
   * it: HTTP 429, with Retry-After unless `retryAfter` is false (KIE may leave it out).
   */
  createTaskRateLimit?: KieSimRateLimit;
  /** Status reads (recordInfo) per window per API key, e.g. 10 per 1 s; off unless given. */
  recordInfoRateLimit?: KieSimRateLimit;
  /** Serve the /__sim/ control API (only with a `controlKey`). Default true. */
  controlApi?: boolean;
  /**
   * The key every /__sim/ request must carry (`Authorization: Bearer <key>`, not a KIE API key);
   * without one the control API is not served: it lists callback tokens and steers the answers.
   */
  controlKey?: string;
  /** Source of randomness for probabilistic fault rules; default Math.random. */
  random?: () => number;
}

export interface KieSimRateLimit {
  limit: number;
  windowMs: number;
  /** Default true. */
  retryAfter?: boolean;
}

/** What KIE's limits saw (GET /__sim/limits): with no limit on, calls are counted over KIE's window. */
export interface KieSimLimits {
  createTask: KieSimLimitSnapshot;
  recordInfo: KieSimLimitSnapshot;
}

export interface KieSimStats {
  /** Requests per endpoint, counted on arrival (including faulted and rejected ones). */
  calls: Record<KieSimEndpoint, number>;
  /** Files stored by the three upload endpoints. */
  uploads: number;
  tasksCreated: number;
  tasksSucceeded: number;
  tasksFailed: number;
  /** Callback POSTs attempted (duplicates included). */
  callbacksSent: number;
  /** Of those, the ones that got no 2xx answer (network error, timeout, error status). */
  callbacksFailed: number;
  /** Requests answered with an injected outcome (header or global rule). */
  faultsInjected: number;
  authFailures: number;
  /** Calls refused by createTaskRateLimit or recordInfoRateLimit. */
  rateLimited: number;
}

export type KieSimTaskSnapshot = Readonly<
  KieRecordData & {
    prompt: string;
    callBackUrl?: string;
    resultUrl?: string;
    /** recordInfo answers "recordInfo is null" before this time (epoch ms). */
    recordVisibleAt: number;
    callbacksSent: number;
  }
>;

export interface KieSimFaultRuleSnapshot {
  rule: string;
  endpoint: string;
  /** Requests left for a `times=` rule; null when unlimited. */
  remaining: number | null;
  probability: number;
}

export interface RunningKieSim {
  /** Base URL, e.g. http://127.0.0.1:8787 — use it as KIE_BASE_URL and KIE_UPLOAD_BASE_URL. */
  url: string;
  close(): Promise<void>;
  stats(): KieSimStats;
  /** What KIE's limits accepted and refused; reset with the stats. */
  limits(): KieSimLimits;
  resetStats(): void;
  /** Replaces the global fault rules; throws KieSimFaultSyntaxError on a malformed rule. */
  setFaults(rules: string | readonly (string | KieSimFaultRuleInput)[]): void;
  faults(): KieSimFaultRuleSnapshot[];
  tasks(): KieSimTaskSnapshot[];
  task(taskId: string): KieSimTaskSnapshot | undefined;
  credits(): number;
  setCredits(credits: number): void;
}
