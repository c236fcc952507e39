/**
 * `sourceTaskId` (DESIGN.md §3): edit one of the user's own results without uploading it again.
 * The result is read from our store (or KIE's URL until it is copied, through the image proxy's
 * guarded fetch) and becomes the request's first image, uploaded to KIE like any file; the new job
 * records the source as its parent (its edit tree). Everything here fails before any credit is
 * reserved: someone else's job, or one without an image, is refused and nothing is charged.
 */
import { brand } from "@/lib/brand";
import type { AppDatabase } from "@/lib/db";
import { findUserGeneration } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";
import type { HasProblem, Problem } from "@/lib/problem";
import { validateImageFile } from "@/lib/security/fileValidation";
import type { ImageLibrary } from "./images";
import type { LocalImageFile } from "./types";
import { publicTaskId } from "./view";

/** The source job is not the user's (or does not exist), or has no image to edit. */
export class SourceImageError extends Error implements HasProblem {
  constructor(readonly reason: "not_found" | "no_image" | "too_large") {
    super(`source image: ${reason}`);
    this.name = "SourceImageError";
  }

  toProblem(): Problem {
    if (this.reason === "not_found") {
      return { code: "not_found", message: "sourceTaskId: no such task of yours.", logLevel: "info" };
    }
    const message =
      this.reason === "no_image"
        ? "sourceTaskId: that job has no image to edit (it has not succeeded, or its image was deleted)."
        : "sourceTaskId: that job's image is larger than an upload may be; download it and send a smaller copy.";
    return { code: "invalid_request", message, logLevel: "info" };
  }
}
brand(SourceImageError, "generation.SourceImageError");

export interface EditSource {
  /** The source job's id (the new job's parent) and public task id. */
  parentId: string;
  parentTaskId: string;
  /** Its image, as the request's first file. */
  file: LocalImageFile;
}

/** The user's job `taskId` as an edit's first image; throws SourceImageError. */
export async function editSourceOf(
  deps: { database: { db: AppDatabase }; images: ImageLibrary },
  userId: string,
  taskId: string,
  limits: { maxBytes: number; maxPixels?: number; signal?: AbortSignal },
): Promise<EditSource> {
  const job = await findUserGeneration(deps.database.db, userId, taskId);
  if (!job) throw new SourceImageError("not_found");
  if (!hasImage(job)) throw new SourceImageError("no_image");
  const image = await deps.images.open(job.id, "original", { kind: "user", userId }, limits.signal);
  if (!image) throw new SourceImageError("no_image");
  const bytes = await readAtMost(image.body, limits.maxBytes);
  if (!bytes) throw new SourceImageError("too_large");
  // Ours or KIE's, the bytes are checked as an upload is: a real image of a supported type.
  const checked = await validateImageFile({ data: bytes, declaredType: image.contentType }, limits);
  const data = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: checked.mimeType });
  return { parentId: job.id, parentTaskId: publicTaskId(job), file: { data, mimeType: checked.mimeType } };
}

/**
 * A succeeded job's image (ours, or KIE's URL until it is copied). A timed-out job that KIE
 * delivered late (a free image, DESIGN.md §5) counts only once that image is in our store: until
 * the reconciler copies it, its KIE URL is nothing we vouch for, and the user saw no result.
 */
function hasImage(job: Generation): boolean {
  if (job.imagesDeletedAt || (job.resultUrls?.length ?? 0) === 0) return false;
  return job.status === "succeeded" || (job.status === "timeout" && job.imageStoredAt !== null);
}

/** The whole stream, or undefined (and the stream cancelled) past `maxBytes`. */
async function readAtMost(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
