/**
 * Upload checks that run before any upstream call (DESIGN.md §6): count, size, type by magic bytes
 * and pixel count from the header. What a client declares (file name, Content-Type) decides
 * nothing: the bytes do.
 */
import sharp, { type Metadata } from "sharp";
import {
  FileTooLargeError,
  ImageTooManyPixelsError,
  InvalidDataUriError,
  TooManyImagesError,
  UnsupportedMediaTypeError,
} from "./errors";
import { type AcceptedImageType, SNIFF_BYTES, sniffImageType } from "./mediaType";

/** 50 megapixels: well above any camera photo, far below what would exhaust memory when decoded. */
export const DEFAULT_MAX_PIXELS = 50_000_000;
export const DEFAULT_MAX_IMAGES = 5;

/** sharp's `format` for each accepted type, to cross-check file-type. */
const SHARP_FORMAT: Record<AcceptedImageType, string> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/webp": "webp",
};

export interface ImageLimits {
  maxBytes: number;
  /** width × height (× frames); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

export interface ImageFileInput {
  data: Blob | Uint8Array;
  /** For logs only: the type is decided by the bytes. */
  name?: string;
  /** For logs only: the type is decided by the bytes. */
  declaredType?: string;
}

export interface ValidatedImage {
  /** The type by magic bytes; use it (not the client's) when uploading the file on. */
  mimeType: AcceptedImageType;
  width: number;
  height: number;
  size: number;
  /** EXIF orientation (1 = upright; 5–8 turn it a quarter): `uprightImage` turns it upright. */
  orientation: number;
}

/**
 * Checks one uploaded image: size first (a Blob's size is known without reading it), then the
 * magic bytes of its head only, then width and height from the header via sharp (which does not
 * decode the pixels).
 *
 * Throws FileTooLargeError (413), UnsupportedMediaTypeError (415: not PNG/JPEG/WebP, or a header
 * sharp cannot read) or ImageTooManyPixelsError (400: a pixel bomb).
 */
export async function validateImageFile(input: ImageFileInput, limits: ImageLimits): Promise<ValidatedImage> {
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { data } = input;
  const size = data instanceof Uint8Array ? data.byteLength : data.size;
  if (size > limits.maxBytes) throw new FileTooLargeError(limits.maxBytes, size);
  if (size === 0) throw new UnsupportedMediaTypeError("unrecognized");

  const head =
    data instanceof Uint8Array
      ? data.subarray(0, SNIFF_BYTES)
      : new Uint8Array(await data.slice(0, SNIFF_BYTES).arrayBuffer());
  const mimeType = await sniffImageType(head);

  // Within maxBytes now, so reading it all is bounded; sharp needs the bytes up to the header,
  // which for a JPEG can sit behind large EXIF and ICC segments.
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(await data.arrayBuffer());
  const { width, height, orientation } = await readDimensions(bytes, mimeType, maxPixels);
  return { mimeType, width, height, size, orientation };
}

async function readDimensions(
  bytes: Uint8Array,
  mimeType: AcceptedImageType,
  maxPixels: number,
): Promise<{ width: number; height: number; orientation: number }> {
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
  } catch (error) {
    if (error instanceof Error && /pixel limit/i.test(error.message)) {
      throw new ImageTooManyPixelsError(maxPixels);
    }
    throw new UnsupportedMediaTypeError("corrupt", { detectedType: mimeType });
  }
  // Without the `pages` option, sharp reports one frame's size; an animation decodes every frame.
  const { width, height, format, pages = 1 } = metadata;
  if (format !== SHARP_FORMAT[mimeType] || !(width > 0) || !(height > 0)) {
    throw new UnsupportedMediaTypeError("corrupt", { detectedType: mimeType });
  }
  if (width * height * pages > maxPixels) throw new ImageTooManyPixelsError(maxPixels, width, height);
  return { width, height, orientation: metadata.orientation ?? 1 };
}

/**
 * The image turned as its EXIF orientation says, in its own format, without the tag: KIE's model
 * and our copy see it as the user's camera showed it. Only called for a turned image (orientation
 * above 1); the pixel limit was checked by validateImageFile.
 */
export async function uprightImage(bytes: Uint8Array, mimeType: AcceptedImageType): Promise<Uint8Array> {
  const turned = sharp(bytes, { limitInputPixels: false }).rotate();
  const encoded =
    mimeType === "image/png"
      ? turned.png()
      : mimeType === "image/webp"
        ? turned.webp({ quality: 92 })
        : turned.jpeg({ quality: 92 });
  return new Uint8Array(await encoded.toBuffer());
}

/** Refuses more than `max` reference images (DESIGN.md §3: 0–5). */
export function validateImageCount(count: number, max: number = DEFAULT_MAX_IMAGES): void {
  if (count > max) throw new TooManyImagesError(count, max);
}

export interface ParsedDataUri extends ValidatedImage {
  /** The decoded bytes, checked like an uploaded file. */
  data: Uint8Array;
}

/** Declared types a data URI may carry; `image/jpg` is a common misspelling of image/jpeg. */
const DECLARED_DATA_URI_TYPES: Record<string, AcceptedImageType> = {
  "image/png": "image/png",
  "image/jpeg": "image/jpeg",
  "image/jpg": "image/jpeg",
  "image/webp": "image/webp",
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes `data:image/png;base64,…` (from `images` in a JSON body) and validates the bytes like an
 * uploaded file. The size is checked from the base64 length before anything is decoded, and the
 * declared type must match the magic bytes.
 *
 * Throws InvalidDataUriError (400) for a malformed URI, FileTooLargeError (413), and
 * UnsupportedMediaTypeError (415) for a declared type other than PNG/JPEG/WebP, bytes that are not
 * one, or a declared type the bytes contradict.
 */
export async function parseDataUri(uri: string, limits: ImageLimits): Promise<ParsedDataUri> {
  if (typeof uri !== "string" || uri.slice(0, 5).toLowerCase() !== "data:") {
    throw new InvalidDataUriError("not_data_uri");
  }
  const comma = uri.indexOf(",");
  if (comma === -1) throw new InvalidDataUriError("not_data_uri");
  const parameters = uri
    .slice(5, comma)
    .split(";")
    .map((part) => part.trim().toLowerCase());
  if (parameters.length < 2 || parameters.at(-1) !== "base64") throw new InvalidDataUriError("not_base64");

  // An empty media type means text/plain (RFC 2397).
  const declaredType = parameters[0] || "text/plain";
  const expected = DECLARED_DATA_URI_TYPES[declaredType];
  if (!expected) throw new UnsupportedMediaTypeError("not_allowed", { declaredType });

  const payload = uri.slice(comma + 1);
  const padding = payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0;
  const decodedSize = Math.floor((payload.length * 3) / 4) - padding;
  if (decodedSize > limits.maxBytes) throw new FileTooLargeError(limits.maxBytes, decodedSize);
  if (payload.length % 4 === 1 || !BASE64.test(payload)) throw new InvalidDataUriError("bad_base64");

  const bytes = Buffer.from(payload, "base64");
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const image = await validateImageFile({ data, declaredType }, limits);
  if (image.mimeType !== expected) {
    throw new UnsupportedMediaTypeError("type_mismatch", { declaredType, detectedType: image.mimeType });
  }
  return { ...image, data };
}
