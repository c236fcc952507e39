/**
 * What the browser sees of the API (DESIGN.md §3), inferred from the zod schemas the OpenAPI
 * document is built from (lib/http/openapi/schemas.ts): a field the API changes changes here.
 * Type-only imports: no zod and no schema reaches the browser bundle.
 */
import type { z } from "zod";
import type {
  apiKeyCreatedSchema,
  apiKeySchema,
  generateAcceptedSchema,
  generateBatchSchema,
  generationDetailSchema,
  jobSchema,
  jobStatusSchema,
  meSchema,
  modelsSchema,
  taskStatusSchema,
} from "@/lib/http/openapi/schemas";

/** The declared fields of a loose object schema, without its `[key: string]: unknown`. */
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };

export type JobStatus = z.infer<typeof jobStatusSchema>;

type Listed = Known<z.infer<typeof jobSchema>>;
type Followed = Known<z.infer<typeof taskStatusSchema>>;
type Accepted = Known<z.infer<typeof generateAcceptedSchema>>;

/**
 * A job as the UI holds it: listed by History, answered by the status route or by the create
 * (whose answers carry fewer fields, hence all optional but the id, status and prompt).
 */
export type Job = Pick<Listed, "taskId" | "status" | "prompt"> &
  Partial<Omit<Listed, "taskId" | "status" | "prompt" | "success">> &
  Partial<Pick<Followed, "remainingCredits" | "pollAfterMs" | "queuePosition" | "etaMs" | "warnings">> &
  Partial<Pick<Accepted, "statusUrl">>;

/** A batch of jobs (`n` > 1) as POST /api/generate answers it. */
export type BatchAccepted = Omit<Known<z.infer<typeof generateBatchSchema>>, "success">;

/** A job with its parent and its edits (GET /api/generations/:taskId). */
export type GenerationDetail = Omit<Known<z.infer<typeof generationDetailSchema>>, "success">;

export type Me = Omit<Known<z.infer<typeof meSchema>>, "success">;

/** A model of GET /api/models (its schema: lib/catalog/view.ts), as the studio's picker reads it. */
export type StudioModel = Known<z.infer<typeof modelsSchema>["models"][number]>;

/** What a request with these options costs (the server reserves the same price). */
export function priceOf(model: StudioModel, resolution?: string): number {
  const prices = Object.entries(model.credits.byResolution ?? {});
  const byResolution = prices.find(([name]) => name === resolution)?.[1];
  return byResolution ?? model.credits.default;
}

/** The server's limits and choices, passed from the server page to the studio form. */
export interface StudioSettings {
  /** The catalogue with this server's prices; the first is the default. */
  models: readonly StudioModel[];
  aspectRatios: readonly string[];
  maxImages: number;
  maxPromptChars: number;
  maxUploadBytes: number;
  cost: number;
}

export function isRunning(status: JobStatus): boolean {
  return status === "pending" || status === "processing";
}

/** A personal API key as the "API keys" page lists it (GET /api/keys). */
export type ApiKey = Known<z.infer<typeof apiKeySchema>>;
/** POST /api/keys: the key and, this once, its secret. */
export type CreatedApiKey = Omit<Known<z.infer<typeof apiKeyCreatedSchema>>, "success">;
