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
  images?: string[];
  creditsUsed?: number;
  remainingCredits?: number;
  pollAfterMs?: number;
  error?: { code: string; message: string };
  createdAt?: string;
  settledAt?: string;
}

export interface Me {
  user: { id: string; email: string | null; isAdmin: boolean };
  balance: number;
  auth: "dev" | "supabase";
  kie: "simulator" | "kie";
}

/** The server's limits and choices, passed from the server page to the studio form. */
export interface StudioSettings {
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
