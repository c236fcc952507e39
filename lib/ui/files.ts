/**
 * Reference images, checked in the browser with the server's own limits (DESIGN.md §3, §6) so a
 * person learns at once which file is wrong and why, before anything is uploaded or charged.
 * Phone photos are made to fit first (issue 27): HEIC converted to JPEG, every photo turned
 * upright, large ones scaled down (serverless hosts cap request bodies at ~4.5 MB); only what
 * cannot be made to fit is refused, with the reason.
 */
import { jpegOrientation } from "./exif";

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

/** ISO-BMFF brands of HEIF stills and sequences (HEVC or not): what iPhones and Android phones write. */
const HEIF_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1"]);

/** A HEIC/HEIF photo by its `ftyp` box (bytes 4–12), whatever its name or declared type. */
export function isHeif(head: Uint8Array): boolean {
  if (head.length < 12 || String.fromCharCode(...head.subarray(4, 8)) !== "ftyp") return false;
  return HEIF_BRANDS.has(String.fromCharCode(...head.subarray(8, 12)));
}

/** The picker's list: the types the server takes, plus HEIC so Safari hands it over or converts it. */
export const PICKER_ACCEPT = "image/png,image/jpeg,image/webp,image/heic,image/heif,.heic,.heif";

export interface FileLimits {
  maxImages: number;
  maxUploadBytes: number;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** Photos above this many pixels, or a longer side than this, are scaled down before upload. */
export const DOWNSCALE_PIXELS = 2_000_000;
export const MAX_SIDE = 2048;
/** Above this many bytes a photo is re-encoded even when its size in pixels is fine. */
const DOWNSCALE_BYTES = 1.5 * 1024 * 1024;

/** The size to scale (width, height) to: at most `maxPixels` and `maxSide`; unchanged when it fits. */
export function fitPixels(
  width: number,
  height: number,
  maxPixels = DOWNSCALE_PIXELS,
  maxSide = MAX_SIDE,
): [number, number] {
  const scale = Math.min(1, Math.sqrt(maxPixels / (width * height)), maxSide / Math.max(width, height));
  if (scale >= 1) return [width, height];
  return [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale))];
}

export type PreparedFile = { ok: true; file: File } | { ok: false; reason: string };

/**
 * One file made ready to send: type by magic bytes (HEIC converted), upright, scaled to fit, and
 * only then checked against the size limit. A refusal says why.
 */
export async function prepareImageFile(input: File, limits: FileLimits): Promise<PreparedFile> {
  let file = input;
  let head = new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer());
  if (isHeif(head)) {
    try {
      // Loaded only now: the converter (libheif in WebAssembly, ~3 MB) is its own chunk.
      const { heicToJpeg } = await import("./heic");
      file = await heicToJpeg(file);
    } catch {
      return {
        ok: false,
        reason: `“${input.name}” is a HEIC photo this browser could not convert. Export it as JPEG and add that.`,
      };
    }
    head = new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer());
  }
  const type = sniffImageType(head);
  if (!type) return { ok: false, reason: `“${input.name}” is not a PNG, JPEG, WebP or HEIC image.` };
  const turned = type === "image/jpeg" && jpegOrientation(head) > 1;
  const prepared = await redraw(file, type, { turned, maxBytes: limits.maxUploadBytes });
  if (prepared.size > limits.maxUploadBytes) {
    return {
      ok: false,
      reason: `“${input.name}” is ${formatBytes(prepared.size)} and could not be made smaller here; the limit is ${formatBytes(limits.maxUploadBytes)} per image.`,
    };
  }
  return { ok: true, file: prepared };
}

/** JPEG qualities tried in turn until the file fits. */
const QUALITIES = [0.9, 0.8, 0.7];

/**
 * Redraws the photo upright (its EXIF orientation applied) and scaled to fit, JPEG staying JPEG and
 * others becoming WebP to keep transparency. A file that needs neither comes back untouched; so
 * does anything the browser cannot decode (the size check and then the server decide).
 */
async function redraw(
  file: File,
  type: ImageType,
  { turned, maxBytes }: { turned: boolean; maxBytes: number },
): Promise<File> {
  if (typeof createImageBitmap !== "function" || typeof OffscreenCanvas === "undefined") return file;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  try {
    const [width, height] = fitPixels(bitmap.width, bitmap.height);
    const tooLarge = width !== bitmap.width || file.size > maxBytes;
    if (!turned && !tooLarge && file.size <= DOWNSCALE_BYTES) return file;
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (!context) return file;
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, width, height);
    const outType = type === "image/jpeg" ? "image/jpeg" : "image/webp";
    let blob: Blob | undefined;
    for (const quality of QUALITIES) {
      blob = await canvas.convertToBlob({ type: outType, quality });
      if (blob.size <= Math.min(maxBytes, DOWNSCALE_BYTES)) break;
    }
    if (!blob || (!turned && !tooLarge && blob.size >= file.size)) return file;
    const name = file.name.replace(/\.[^.]*$/, "") + (outType === "image/jpeg" ? ".jpg" : ".webp");
    return new File([blob], name, { type: outType, lastModified: file.lastModified });
  } finally {
    bitmap.close();
  }
}
