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
 * - StoreUnavailableError: our store is down — the job succeeds on KIE's URL, copied later;
 * - anything else (KIE's file host unreachable, a timeout): try again later.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rm } from "node:fs/promises";
import sharp from "sharp";
import type { StoredImageColumns } from "@/lib/db/images";
import { ProxyUpstreamError, UnsafeUrlError, UnsupportedMediaTypeError } from "@/lib/security/errors";
import type { ProxiedImage } from "@/lib/security/imageProxy";
import { type ImageStore, resultKey, tempFileName, thumbnailKey } from "@/lib/storage";

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
  await mkdir(deps.spoolDir, { recursive: true, mode: 0o700 });
  const spool = tempFileName(deps.spoolDir);
  try {
    const { type, bytes, sha256 } = await download(sourceUrl, spool, deps);
    const { width, height, thumbnail } = await inspect(spool);
    const key = resultKey(jobId, type);
    const thumbKey = thumbnailKey(jobId);
    await deps.store.putFile(key, spool, { contentType: type, contentLength: bytes });
    await deps.store.put(thumbKey, thumbnail, { contentType: "image/webp" });
    return { key, thumbKey, bytes, type, width, height, sha256 };
  } finally {
    await rm(spool, { force: true }).catch(() => {});
  }
}

async function download(
  url: string,
  file: string,
  deps: StoreResultDeps,
): Promise<{ type: string; bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let image: ProxiedImage;
  const handle = await open(file, "wx", 0o600);
  try {
    image = await deps.fetchSource(url);
    for await (const chunk of image.body) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      await handle.write(chunk);
    }
  } catch (error) {
    throw rejectionOf(error) ?? error;
  } finally {
    await handle.close();
  }
  return { type: image.contentType, bytes, sha256: hash.digest("hex") };
}

async function inspect(file: string): Promise<{ width: number; height: number; thumbnail: Buffer }> {
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
    // Sniffed as PNG/JPEG/WebP but not decodable (truncated, corrupt, a pixel bomb).
    throw new ResultRejectedError("not_an_image", { cause: error });
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
