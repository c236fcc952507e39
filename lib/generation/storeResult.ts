/**
 * The copy step (DESIGN.md §9): a result is streamed from KIE through the image proxy's guarded
 * fetcher (allow-list, address guard, byte and time caps, type sniffed) into a spool file named
 * after this process, hashed on the way; sharp reads its size and makes a 256-px WebP thumbnail
 * from the file; both go to the store under the job's keys. Memory stays flat whatever the image's
 * size: nothing holds the whole image but the disk.
 *
 * Outcomes the caller (settlement, the reconciler) tells apart:
 * - StoredImage: the image is ours;
 * - ResultRejectedError: not an image, over the cap, or undecodable — the job fails, credits return
 *   (reason "unsafe_url": a host the guard refuses — the settlement keeps KIE's URL instead);
 * - StoreUnavailableError: our store is down, or our own disk failed (ENOSPC, EIO, EMFILE, a short
 *   write, a spool file gone) — the job succeeds on KIE's URL, copied later;
 * - anything else (KIE's file host unreachable, a timeout): try again later.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rm } from "node:fs/promises";
import sharp from "sharp";
import type { StoredImageColumns } from "@/lib/db/images";
import { ProxyUpstreamError, UnsafeUrlError, UnsupportedMediaTypeError } from "@/lib/security/errors";
import type { ProxiedImage } from "@/lib/security/imageProxy";
import {
  type ImageStore,
  resultKey,
  StoreUnavailableError,
  tempFileName,
  thumbnailKey,
  writeAll,
} from "@/lib/storage";

export const THUMBNAIL_SIZE = 256;
/** Larger images are refused as pixel bombs (the same limit as uploads). */
const MAX_PIXELS = 50_000_000;

/** What a copy produced: the columns the job row records. */
export type StoredImage = StoredImageColumns;

export type RejectionReason = "not_an_image" | "too_large" | "unsafe_url";

/** The result cannot become a delivered image: the job fails and its credits are released. */
export class ResultRejectedError extends Error {
  constructor(
    readonly reason: RejectionReason,
    options?: { cause?: unknown },
  ) {
    super(
      reason === "too_large"
        ? "The generated image is larger than this service accepts."
        : reason === "unsafe_url"
          ? "The image service returned a result from a host this service does not fetch from."
          : "The image service returned something that is not a PNG, JPEG or WebP image.",
      options,
    );
    this.name = "ResultRejectedError";
  }
}

export interface StoreResultDeps {
  store: ImageStore;
  /** The guarded fetch (fetchProxiedImage with the app's policy, dispatcher and caps). */
  fetchSource: (url: string) => Promise<ProxiedImage>;
  /** Where downloads are spooled (temp names swept by sweepTempFiles). */
  spoolDir: string;
}

/** Copies one result into the store under `jobId`'s keys. See the outcomes above. */
export async function storeResult(
  jobId: string,
  sourceUrl: string,
  deps: StoreResultDeps,
): Promise<StoredImage> {
  const spool = tempFileName(deps.spoolDir);
  try {
    const { type, bytes, sha256 } = await download(sourceUrl, spool, deps);
    const { width, height, thumbnail } = await inspect(spool, bytes);
    const key = resultKey(jobId, type);
    const thumbKey = thumbnailKey(jobId);
    await deps.store.putFile(key, spool, { contentType: type, contentLength: bytes });
    await deps.store.put(thumbKey, thumbnail, { contentType: "image/webp" });
    return { key, thumbKey, bytes, type, width, height, sha256 };
  } finally {
    await rm(spool, { force: true }).catch(() => {});
  }
}

/**
 * Streams the result into the spool file, every byte written (a short write is an error, not a
 * shorter image). Failures of our own disk are StoreUnavailableError; the source's are the
 * guard's errors (rejections) or anything else (try later).
 */
async function download(
  url: string,
  file: string,
  deps: StoreResultDeps,
): Promise<{ type: string; bytes: number; sha256: string }> {
  const handle = await local(async () => {
    await mkdir(deps.spoolDir, { recursive: true, mode: 0o700 });
    return open(file, "wx", 0o600);
  });
  const hash = createHash("sha256");
  let bytes = 0;
  let image: ProxiedImage;
  try {
    image = await deps.fetchSource(url);
    for await (const chunk of image.body) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      await local(() => writeAll(handle, chunk));
    }
    await local(() => handle.close());
  } catch (error) {
    await handle.close().catch(() => {});
    throw rejectionOf(error) ?? error;
  }
  return { type: image.contentType, bytes, sha256: hash.digest("hex") };
}

async function inspect(
  file: string,
  bytes: number,
): Promise<{ width: number; height: number; thumbnail: Buffer }> {
  await assertWhole(file, bytes);
  try {
    const metadata = await sharp(file, { limitInputPixels: MAX_PIXELS }).metadata();
    if (!metadata.width || !metadata.height) throw new Error("no dimensions");
    // EXIF orientation: the size a viewer sees is the rotated one.
    const rotated = (metadata.orientation ?? 1) >= 5;
    const thumbnail = await sharp(file, { limitInputPixels: MAX_PIXELS, sequentialRead: true })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside", withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
    return {
      width: rotated ? metadata.height : metadata.width,
      height: rotated ? metadata.width : metadata.height,
      thumbnail,
    };
  } catch (error) {
    // sharp cannot say whether the file or our disk failed: only a file still whole, and readable
    // by us, that does not decode is "not an image" (truncated by KIE, corrupt, a pixel bomb).
    await assertWhole(file, bytes);
    throw new ResultRejectedError("not_an_image", { cause: error });
  }
}

/** The spool file holds every byte read, and we can open it; else our disk failed (vanished, EMFILE…). */
async function assertWhole(file: string, bytes: number): Promise<void> {
  await local(async () => {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      if (size !== bytes) throw new Error(`spool file holds ${size} of ${bytes} bytes`);
    } finally {
      await handle.close();
    }
  });
}

/** Runs a step on our own disk: any failure of it is the store being unavailable, never the image's fault. */
async function local<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new StoreUnavailableError("put", { cause: error });
  }
}

function rejectionOf(error: unknown): ResultRejectedError | undefined {
  if (error instanceof UnsupportedMediaTypeError)
    return new ResultRejectedError("not_an_image", { cause: error });
  if (error instanceof ProxyUpstreamError && error.reason === "too_large") {
    return new ResultRejectedError("too_large", { cause: error });
  }
  if (error instanceof UnsafeUrlError) return new ResultRejectedError("unsafe_url", { cause: error });
  return undefined;
}
