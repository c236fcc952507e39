/**
 * `referenceImageIds` (DESIGN.md §3 "Run again"): reference images the user uploaded before, named
 * by the id their job's stored request gives them (`<jobId>.<index>`: the job's stored input at
 * that place), used again without an upload. They are read from our store — never from KIE, whose
 * copies expire — and checked as an upload is. Everything here fails before any credit is
 * reserved: another user's id or an unknown one is 404, an input no longer stored 400.
 */
import { brand } from "@/lib/brand";
import type { AppDatabase } from "@/lib/db";
import { batchKeepsInputs } from "@/lib/db/batchInputs";
import { findGeneration } from "@/lib/db/generations";
import type { HasProblem, Problem } from "@/lib/problem";
import { validateImageFile } from "@/lib/security/fileValidation";
import type { ImageStore } from "@/lib/storage";
import type { LocalImageFile } from "./types";

const ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([0-9])$/;

/** The id a job's `index`-th stored input is named by in its stored request. */
export function referenceImageId(jobId: string, index: number): string {
  return `${jobId}.${index}`;
}

export class ReferenceImageError extends Error implements HasProblem {
  constructor(
    readonly id: string,
    readonly reason: "not_found" | "not_stored" | "store_unavailable",
    options: { cause?: unknown } = {},
  ) {
    super(`reference image ${id}: ${reason}`, options);
    this.name = "ReferenceImageError";
  }

  toProblem(): Problem {
    if (this.reason === "store_unavailable") {
      // Our store failed (down, slow): nothing was charged; the image is still there to use later.
      return {
        code: "service_unavailable",
        message:
          "Your stored reference images cannot be read right now. Nothing was charged; try again shortly.",
        retryAfterSeconds: 5,
        logLevel: "warn",
      };
    }
    if (this.reason === "not_found") {
      return {
        code: "not_found",
        message: `referenceImageIds: no such image of yours (${this.id}).`,
        logLevel: "info",
      };
    }
    return {
      code: "invalid_request",
      message: `referenceImageIds: ${this.id} is no longer stored (its job was deleted, or the copy never made); upload the image again.`,
      logLevel: "info",
    };
  }
}
brand(ReferenceImageError, "generation.ReferenceImageError");

/** The user's stored reference images `ids`, in order, as files for the request; throws ReferenceImageError. */
export async function storedReferencesOf(
  deps: { database: { db: AppDatabase }; imageStore: ImageStore },
  userId: string,
  ids: readonly string[],
  limits: { maxBytes: number; maxPixels?: number },
): Promise<LocalImageFile[]> {
  const files: LocalImageFile[] = [];
  for (const id of ids) {
    const match = ID.exec(id.toLowerCase());
    if (!match) throw new ReferenceImageError(id, "not_found");
    // Deleted or not: a batch's inputs are stored under its first job and outlive it while
    // another job of the batch keeps its images (lib/db/batchInputs.ts).
    const job = await findGeneration(deps.database.db, match[1] as string);
    if (!job || job.userId !== userId) throw new ReferenceImageError(id, "not_found");
    const kept = !job.imagesDeletedAt || (await batchKeepsInputs(deps.database.db, job));
    const input = kept ? job.inputImages?.[Number(match[2])] : undefined;
    if (!input) throw new ReferenceImageError(id, "not_stored");
    const bytes = await readStored(deps.imageStore, input.key).catch((error: unknown) => {
      throw new ReferenceImageError(id, "store_unavailable", { cause: error });
    });
    if (!bytes) throw new ReferenceImageError(id, "not_stored");
    // Ours, but checked as an upload is: a real image of a supported type, within the limits.
    const checked = await validateImageFile({ data: bytes, declaredType: input.type }, limits);
    files.push({
      data: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: checked.mimeType }),
      mimeType: checked.mimeType,
    });
  }
  return files;
}

/** The stored object's bytes (an input was at most MAX_UPLOAD_BYTES when stored); undefined if gone. */
async function readStored(store: ImageStore, key: string): Promise<Buffer | undefined> {
  const object = await store.get(key);
  if (!object) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
