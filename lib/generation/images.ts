/**
 * Serving a job's image (DESIGN.md §9), framework-free: who may see it, and from where — our
 * store once the result is copied, else KIE's URL through the image proxy's guarded fetcher (the
 * store was down when the job succeeded; the reconciler copies it later). The link is the same
 * either way, so a client never has to know. With an S3 store, a caller may be sent to a
 * short-lived presigned URL instead (`serve`), so the bytes never pass through this process.
 */
import { Readable } from "node:stream";
import type { AppDatabase } from "@/lib/db";
import { isUuid } from "@/lib/db/generations";
import { findImageJob } from "@/lib/db/images";
import type { Generation } from "@/lib/db/schema";
import type { ProxiedImage } from "@/lib/security/imageProxy";
import { type ByteRange, type ByteRangeSpec, extensionOf, type ImageStore } from "@/lib/storage";
import type { ImageVariant } from "@/lib/storage/links";

/**
 * Who is asking: a signed-in user (owner only), or the holder of a valid signed link (`expires`:
 * the link's end, Unix seconds — nothing served for it may be cached beyond).
 */
export type ImageAccess = { kind: "user"; userId: string } | { kind: "link"; expires: number };

export interface ImageFile {
  kind: "file";
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /** The whole image's size in bytes, when known. */
  size?: number;
  /** The bytes' sha256 (per variant) when they are ours and so never change; else undefined. */
  etag?: string;
  /** A file name safe for Content-Disposition: `nano-banana-<id>.<ext>`. */
  downloadName: string;
  /** Whether a byte range would be served (ours, on a store that serves ranges). */
  ranges: boolean;
  /** The range `body` carries, or "unsatisfiable" (an empty body); absent: the whole image. */
  range?: ByteRange | "unsatisfiable";
}

/** Go to the store's presigned URL; `cacheControl` is how long this answer itself may be kept. */
export interface ImageRedirect {
  kind: "redirect";
  url: string;
  cacheControl: string;
}

export interface ServeOptions {
  signal?: AbortSignal;
  /** The one byte range asked for (`Range`), served where the store serves ranges. */
  range?: ByteRangeSpec;
  /** The request's `If-Range`: the range is served only if it is this image's ETag. */
  ifRange?: string | null;
  /** `?download=1`: the store's answer is an attachment. */
  download?: boolean;
}

export interface ImageLibraryDeps {
  db: AppDatabase;
  store: ImageStore;
  /** The image proxy's guarded fetch (allow-list, address guard, caps, type sniffed). */
  fetchSource: (url: string, signal?: AbortSignal) => Promise<ProxiedImage>;
  /** S3_PRESIGNED_REDIRECT: send callers to a presigned URL where the store can make one. */
  redirect?: boolean;
  now?: () => number;
}

/**
 * A presigned URL is signed as of the start of its minute and lives 5 minutes: every request of
 * that minute gets the same URL (so the browser's cache of the bytes keeps working), and it is
 * still valid at least 4 minutes after the last of them was redirected to it.
 */
export const PRESIGN_WINDOW_SECONDS = 60;
export const PRESIGN_TTL_SECONDS = 300;

export class ImageLibrary {
  private readonly now: () => number;

  constructor(private readonly deps: ImageLibraryDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The image, or undefined when there is none for this caller (unknown, someone else's, deleted). */
  async open(
    id: string,
    variant: ImageVariant,
    access: ImageAccess,
    signal?: AbortSignal,
    range?: ByteRangeSpec,
  ): Promise<ImageFile | undefined> {
    const job = await this.jobFor(id, access);
    if (!job) return undefined;
    if (isStored(job)) return this.fromStore(job, variant, range);
    return this.fromSource(job, signal);
  }

  /**
   * What `GET /api/images/:id` answers: like `open`, but a stored image on a store that presigns
   * is a redirect (when enabled). The caller's access is checked first, exactly as for `open`.
   */
  async serve(
    id: string,
    variant: ImageVariant,
    access: ImageAccess,
    options: ServeOptions = {},
  ): Promise<ImageFile | ImageRedirect | undefined> {
    const job = await this.jobFor(id, access);
    if (!job) return undefined;
    if (!isStored(job)) return this.fromSource(job, options.signal);
    const { store } = this.deps;
    if (!this.deps.redirect || !store.presign) {
      // If-Range names the version the client holds part of: another one gets the whole image.
      const { ifRange, range } = options;
      const current = ifRange == null || ifRange.trim() === `"${objectOf(job, variant).etag}"`;
      return this.fromStore(job, variant, current ? range : undefined);
    }
    const { key, contentType } = objectOf(job, variant);
    const plan = presignPlan(this.now(), access);
    const url = await store.presign(key, {
      expiresInSeconds: plan.expiresInSeconds,
      signingDate: plan.signingDate,
      contentType,
      cacheControl: plan.objectCacheControl,
      ...(options.download && { downloadName: downloadName(job.id, contentType) }),
    });
    return { kind: "redirect", url, cacheControl: plan.redirectCacheControl };
  }

  private async jobFor(id: string, access: ImageAccess): Promise<Generation | undefined> {
    if (!isUuid(id)) return undefined;
    const job = await findImageJob(this.deps.db, id.toLowerCase());
    if (!job || job.imagesDeletedAt) return undefined;
    if (access.kind === "user" && job.userId !== access.userId) return undefined;
    return job;
  }

  private async fromSource(job: Generation, signal?: AbortSignal): Promise<ImageFile | undefined> {
    const source = job.resultUrls?.[0];
    if (!source) return undefined;
    const fetched = await this.deps.fetchSource(source, signal);
    return {
      kind: "file",
      body: fetched.body,
      contentType: fetched.contentType,
      size: fetched.contentLength,
      downloadName: downloadName(job.id, fetched.contentType),
      ranges: false,
    };
  }

  private async fromStore(
    job: Generation,
    variant: ImageVariant,
    range?: ByteRangeSpec,
  ): Promise<ImageFile | undefined> {
    const { key, contentType, etag } = objectOf(job, variant);
    const object = await this.deps.store.get(key, { range });
    if (!object) return undefined;
    return {
      kind: "file",
      body: Readable.toWeb(object.body) as ReadableStream<Uint8Array>,
      contentType,
      size: object.size,
      etag,
      downloadName: downloadName(job.id, contentType),
      ranges: this.deps.store.kind === "local",
      ...(object.range && { range: object.range }),
    };
  }
}

function isStored(job: Generation): boolean {
  return Boolean(job.imageStoredAt && job.imageKey && job.imageType && job.imageSha256);
}

function objectOf(
  job: Generation,
  variant: ImageVariant,
): { key: string; contentType: string; etag: string } {
  const thumb = variant === "thumb" && job.imageThumbKey;
  return thumb
    ? { key: job.imageThumbKey as string, contentType: "image/webp", etag: `${job.imageSha256}.thumb` }
    : { key: job.imageKey as string, contentType: job.imageType as string, etag: job.imageSha256 as string };
}

/**
 * When the URL is signed, how long it lives, and how long the redirect and the store's answer may
 * be cached. Signed in, nothing is kept (a shared browser after sign-out, §9). With a signed link:
 * the URL lives 5 minutes but never past the link's end; the redirect is kept until the end of its
 * minute or the link's, whichever is first (the URL it names lives at least as long), the bytes
 * 4 minutes at most and never past the link's end — computed from the minute, not the second, so
 * the URL (which carries them) is the same for the whole minute.
 */
export function presignPlan(
  nowMs: number,
  access: ImageAccess,
): {
  signingDate: Date;
  expiresInSeconds: number;
  redirectCacheControl: string;
  objectCacheControl: string;
} {
  const nowSeconds = Math.floor(nowMs / 1000);
  const windowStart = nowSeconds - (nowSeconds % PRESIGN_WINDOW_SECONDS);
  const signingDate = new Date(windowStart * 1000);
  if (access.kind === "user") {
    return {
      signingDate,
      expiresInSeconds: PRESIGN_TTL_SECONDS,
      redirectCacheControl: "private, no-store",
      objectCacheControl: "private, no-store",
    };
  }
  const windowEnd = windowStart + PRESIGN_WINDOW_SECONDS;
  const redirectAge = Math.max(0, Math.min(access.expires, windowEnd) - nowSeconds);
  const objectAge = Math.max(
    0,
    Math.min(
      PRESIGN_TTL_SECONDS - PRESIGN_WINDOW_SECONDS,
      access.expires - windowStart - PRESIGN_TTL_SECONDS,
    ),
  );
  return {
    signingDate,
    // Never past the link: its holder must not keep the image through a URL sent before its end
    // (the link was checked unexpired, so at least 1 s is left of it since windowStart).
    expiresInSeconds: Math.max(1, Math.min(PRESIGN_TTL_SECONDS, access.expires - windowStart)),
    redirectCacheControl: `private, max-age=${redirectAge}`,
    objectCacheControl: `private, max-age=${objectAge}, immutable`,
  };
}

function downloadName(id: string, contentType: string): string {
  return `nano-banana-${id.slice(0, 8)}.${extensionOf(contentType)}`;
}
