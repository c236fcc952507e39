/**
 * Serving a job's image (DESIGN.md §9), framework-free: who may see it, and from where — our
 * store once the result is copied, else KIE's URL through the image proxy's guarded fetcher (the
 * store was down when the job succeeded; the reconciler copies it later). The link is the same
 * either way, so a client never has to know.
 */
import { Readable } from "node:stream";
import type { AppDatabase } from "@/lib/db";
import { isUuid } from "@/lib/db/generations";
import { findImageJob } from "@/lib/db/images";
import type { Generation } from "@/lib/db/schema";
import type { ProxiedImage } from "@/lib/security/imageProxy";
import { extensionOf, type ImageStore } from "@/lib/storage";
import type { ImageVariant } from "@/lib/storage/links";

/** Who is asking: a signed-in user (owner only), or the holder of a valid signed link. */
export type ImageAccess = { kind: "user"; userId: string } | { kind: "link" };

export interface ImageFile {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  size?: number;
  /** The bytes' sha256 (per variant) when they are ours and so never change; else undefined. */
  etag?: string;
  /** A file name safe for Content-Disposition: `nano-banana-<id>.<ext>`. */
  downloadName: string;
}

export interface ImageLibraryDeps {
  db: AppDatabase;
  store: ImageStore;
  /** The image proxy's guarded fetch (allow-list, address guard, caps, type sniffed). */
  fetchSource: (url: string, signal?: AbortSignal) => Promise<ProxiedImage>;
}

export class ImageLibrary {
  constructor(private readonly deps: ImageLibraryDeps) {}

  /** The image, or undefined when there is none for this caller (unknown, someone else's, deleted). */
  async open(
    id: string,
    variant: ImageVariant,
    access: ImageAccess,
    signal?: AbortSignal,
  ): Promise<ImageFile | undefined> {
    if (!isUuid(id)) return undefined;
    const job = await findImageJob(this.deps.db, id.toLowerCase());
    if (!job || job.imagesDeletedAt) return undefined;
    if (access.kind === "user" && job.userId !== access.userId) return undefined;
    if (job.imageStoredAt && job.imageKey && job.imageType && job.imageSha256) {
      return this.fromStore(job, variant);
    }
    const source = job.resultUrls?.[0];
    if (!source) return undefined;
    const fetched = await this.deps.fetchSource(source, signal);
    return {
      body: fetched.body,
      contentType: fetched.contentType,
      size: fetched.contentLength,
      downloadName: downloadName(job.id, fetched.contentType),
    };
  }

  private async fromStore(job: Generation, variant: ImageVariant): Promise<ImageFile | undefined> {
    const thumb = variant === "thumb" && job.imageThumbKey;
    const key = thumb ? (job.imageThumbKey as string) : (job.imageKey as string);
    const object = await this.deps.store.get(key);
    if (!object) return undefined;
    const contentType = thumb ? "image/webp" : (job.imageType as string);
    return {
      body: Readable.toWeb(object.body) as ReadableStream<Uint8Array>,
      contentType,
      size: object.size,
      etag: thumb ? `${job.imageSha256}.thumb` : (job.imageSha256 as string),
      downloadName: downloadName(job.id, contentType),
    };
  }
}

function downloadName(id: string, contentType: string): string {
  return `nano-banana-${id.slice(0, 8)}.${extensionOf(contentType)}`;
}
