/**
 * What an image is, by its magic bytes (file-type), never by its name or a declared Content-Type.
 * Shared by upload validation and the image proxy; no sharp here, so the proxy does not load it.
 */
import { fileTypeFromBuffer } from "file-type";
import { UnsupportedMediaTypeError } from "./errors";

export const ACCEPTED_IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
export type AcceptedImageType = (typeof ACCEPTED_IMAGE_TYPES)[number];

/** file-type's detection window: enough for every signature it knows. */
export const SNIFF_BYTES = 4100;

/** file-type's answer → the type we accept it as. An APNG is a valid PNG (its first frame). */
const ACCEPTED_BY_DETECTED_MIME: Record<string, AcceptedImageType> = {
  "image/png": "image/png",
  "image/apng": "image/png",
  "image/jpeg": "image/jpeg",
  "image/webp": "image/webp",
};

/**
 * The accepted type of an image from its first bytes (SNIFF_BYTES is enough).
 * Throws UnsupportedMediaTypeError for anything but PNG, JPEG and WebP.
 */
export async function sniffImageType(head: Uint8Array): Promise<AcceptedImageType> {
  let detected: { mime: string } | undefined;
  try {
    detected = await fileTypeFromBuffer(head);
  } catch {
    // file-type throws on some malformed inputs; those are not images we accept either.
    detected = undefined;
  }
  if (!detected) throw new UnsupportedMediaTypeError("unrecognized");
  const accepted = ACCEPTED_BY_DETECTED_MIME[detected.mime];
  if (!accepted) throw new UnsupportedMediaTypeError("not_allowed", { detectedType: detected.mime });
  return accepted;
}
