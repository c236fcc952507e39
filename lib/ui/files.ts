/**
 * Reference images, checked in the browser with the server's own limits (DESIGN.md §3, §6) so a
 * person learns at once which file is wrong and why, before anything is uploaded or charged.
 * Large photos are scaled down here: serverless hosts cap request bodies at ~4.5 MB.
 */

export type ImageType = "image/png" | "image/jpeg" | "image/webp";

/** The type by magic bytes, as the server decides it; undefined for anything else. */
export function sniffImageType(head: Uint8Array): ImageType | undefined {
  if (head.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => head[i] === b)) {
    return "image/png";
  }
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "image/jpeg";
  if (
    head.length >= 12 &&
    String.fromCharCode(...head.subarray(0, 4)) === "RIFF" &&
    String.fromCharCode(...head.subarray(8, 12)) === "WEBP"
  ) {
    return "image/webp";
  }
  return undefined;
}

export interface FileLimits {
  maxImages: number;
  maxUploadBytes: number;
}

export type FileCheck = { ok: true; type: ImageType } | { ok: false; reason: string };

/** One file against the limits: type by magic bytes, then size. */
export async function checkImageFile(file: File, limits: FileLimits): Promise<FileCheck> {
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const type = sniffImageType(head);
  if (!type) return { ok: false, reason: `“${file.name}” is not a PNG, JPEG or WebP image.` };
  if (file.size > limits.maxUploadBytes) {
    return {
      ok: false,
      reason: `“${file.name}” is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.maxUploadBytes)} per image.`,
    };
  }
  return { ok: true, type };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** Photos above this many pixels (or bytes) are scaled down before upload. */
export const DOWNSCALE_PIXELS = 2_000_000;
const DOWNSCALE_BYTES = 1.5 * 1024 * 1024;

/** The size to scale (width, height) to so it has at most `maxPixels`; unchanged when it fits. */
export function fitPixels(width: number, height: number, maxPixels = DOWNSCALE_PIXELS): [number, number] {
  if (width * height <= maxPixels) return [width, height];
  const scale = Math.sqrt(maxPixels / (width * height));
  return [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale))];
}

/**
 * Scales a large photo down to ~2 MP (JPEG stays JPEG, others become WebP to keep transparency).
 * Small files come back untouched; so does anything the browser cannot decode (the server decides).
 */
export async function prepareForUpload(file: File, type: ImageType): Promise<File> {
  if (typeof createImageBitmap !== "function" || typeof OffscreenCanvas === "undefined") return file;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return file;
  }
  try {
    const [width, height] = fitPixels(bitmap.width, bitmap.height);
    const tooManyPixels = width !== bitmap.width;
    if (!tooManyPixels && file.size <= DOWNSCALE_BYTES) return file;
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (!context) return file;
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, width, height);
    const outType = type === "image/jpeg" ? "image/jpeg" : "image/webp";
    const blob = await canvas.convertToBlob({ type: outType, quality: 0.9 });
    if (!tooManyPixels && blob.size >= file.size) return file;
    const name = file.name.replace(/\.[^.]*$/, "") + (outType === "image/jpeg" ? ".jpg" : ".webp");
    return new File([blob], name, { type: outType, lastModified: file.lastModified });
  } finally {
    bitmap.close();
  }
}
