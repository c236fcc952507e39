/** What the browser sees of the API (DESIGN.md §3): the shapes the UI reads, nothing more. */

export type JobStatus = "pending" | "processing" | "succeeded" | "failed" | "timeout";

export interface Job {
  taskId: string;
  status: JobStatus;
  type?: "text_to_image" | "image_edit";
  model?: string;
  prompt: string;
  aspectRatio?: string;
  outputFormat?: string;
  imageUrl?: string;
  /** A 256-px WebP of the stored image, when it is stored. */
  thumbnailUrl?: string;
  images?: string[];
  creditsUsed?: number;
  remainingCredits?: number;
  pollAfterMs?: number;
  /** While the job waits in line for the image service: its place (1 = next) and about when it goes. */
  queuePosition?: number;
  etaMs?: number;
  error?: { code: string; message: string };
  /** What was not done as asked (e.g. the model ignored the aspect ratio), in plain words. */
  warnings?: string[];
  createdAt?: string;
  settledAt?: string;
}

export interface Me {
  user: { id: string; email: string | null; isAdmin: boolean };
  balance: number;
  auth: "dev" | "supabase";
  kie: "simulator" | "kie";
}

/** A model of GET /api/models, as the studio's picker reads it. */
export interface StudioModel {
  id: string;
  label: string;
  description: string;
  options: {
    aspectRatios: readonly string[];
    resolutions?: readonly string[];
    defaultResolution?: string;
    googleSearch: boolean;
    outputFormats: readonly string[];
  };
  limits: { maxImages: number; promptMaxChars: number };
  credits: { default: number; byResolution?: Partial<Record<string, number>> };
}

/** What a request with these options costs (the server reserves the same price). */
export function priceOf(model: StudioModel, resolution?: string): number {
  const byResolution = resolution ? model.credits.byResolution?.[resolution] : undefined;
  return byResolution ?? model.credits.default;
}

/** The server's limits and choices, passed from the server page to the studio form. */
export interface StudioSettings {
  /** The catalogue with this server's prices; the first is the default. */
  models: readonly StudioModel[];
  aspectRatios: readonly string[];
  outputFormats: readonly string[];
  maxImages: number;
  maxPromptChars: number;
  maxUploadBytes: number;
  cost: number;
}

export function isRunning(status: JobStatus): boolean {
  return status === "pending" || status === "processing";
}
