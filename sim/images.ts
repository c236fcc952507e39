/**
 * Real images for the simulator, drawn with sharp. Text-to-image paints shapes whose colours and
 * positions come from a hash of the prompt (same prompt → same bytes; no fonts involved); edit
 * composes the fetched inputs, shifts their hue, posterizes them and frames them, so the result
 * visibly differs from what went in.
 */
import { createHash } from "node:crypto";
import sharp, { type Metadata, type Sharp } from "sharp";

/** Nano Banana's 1K output sizes (width × height) per aspect ratio. */
const BASE_SIZES: Record<string, readonly [number, number]> = {
  "1:1": [1024, 1024],
  "2:3": [832, 1248],
  "3:2": [1248, 832],
  "3:4": [864, 1184],
  "4:3": [1184, 864],
  "4:5": [896, 1152],
  "5:4": [1152, 896],
  "9:16": [768, 1344],
  "16:9": [1344, 768],
  "21:9": [1536, 672],
};

const ONE_MEGAPIXEL = 1024 * 1024;

function sizeForRatio(ratio: number): [number, number] {
  const w = Math.max(16, Math.round(Math.sqrt(ONE_MEGAPIXEL * ratio) / 16) * 16);
  const h = Math.max(16, Math.round(Math.sqrt(ONE_MEGAPIXEL / ratio) / 16) * 16);
  return [w, h];
}

export function parseRatio(aspect: string): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(aspect);
  if (!m) return undefined;
  return Number(m[1]) / Number(m[2]);
}

/**
 * Output size for an aspect ratio. `auto` uses `autoRatio` (the first input's ratio for edits)
 * or 1:1. `scale` (0–1] shrinks everything, for fast tests and light demos.
 */
export function outputSize(
  aspect: string,
  options: { resolutionFactor?: number; scale?: number; autoRatio?: number } = {},
): { width: number; height: number } {
  let base: readonly [number, number];
  if (aspect === "auto") {
    base = options.autoRatio ? sizeForRatio(options.autoRatio) : BASE_SIZES["1:1"]!;
  } else {
    const ratio = parseRatio(aspect);
    if (ratio === undefined) throw new Error(`unknown aspect ratio ${aspect}`);
    base = BASE_SIZES[aspect] ?? sizeForRatio(ratio);
  }
  const factor = (options.resolutionFactor ?? 1) * (options.scale ?? 1);
  return {
    width: Math.max(8, Math.round(base[0] * factor)),
    height: Math.max(8, Math.round(base[1] * factor)),
  };
}

export type ImageFormat = "png" | "jpeg";

export const MIME_BY_FORMAT: Record<ImageFormat, string> = { png: "image/png", jpeg: "image/jpeg" };
export const EXTENSION_BY_FORMAT: Record<ImageFormat, string> = { png: "png", jpeg: "jpg" };

/** A stream of pseudo-random numbers from a hash, so drawings are reproducible. */
class HashStream {
  private block: Buffer;
  private offset = 0;
  private counter = 0;
  constructor(private readonly seed: string) {
    this.block = this.next();
  }
  private next(): Buffer {
    return createHash("sha256")
      .update(`${this.seed}#${this.counter++}`)
      .digest();
  }
  byte(): number {
    if (this.offset >= this.block.length) {
      this.block = this.next();
      this.offset = 0;
    }
    return this.block[this.offset++]!;
  }
  /** Uniform in [0, 1). */
  unit(): number {
    return (this.byte() * 256 + this.byte()) / 65536;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.unit() * (max - min + 1));
  }
}

function hsl(colour: { h: number; s: number; l: number }): string {
  return `hsl(${Math.round(colour.h)},${Math.round(colour.s)}%,${Math.round(colour.l)}%)`;
}

function shapesSvg(rng: HashStream, area: { width: number; height: number; count: number }): string {
  const { width, height, count } = area;
  const unit = Math.min(width, height);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const fill = hsl({ h: rng.int(0, 359), s: rng.int(55, 95), l: rng.int(35, 75) });
    const opacity = (0.35 + rng.unit() * 0.5).toFixed(2);
    const cx = Math.round(rng.unit() * width);
    const cy = Math.round(rng.unit() * height);
    const size = Math.round(unit * (0.08 + rng.unit() * 0.3));
    switch (rng.int(0, 2)) {
      case 0:
        parts.push(`<circle cx="${cx}" cy="${cy}" r="${size}" fill="${fill}" fill-opacity="${opacity}"/>`);
        break;
      case 1: {
        const angle = rng.int(0, 89);
        parts.push(
          `<rect x="${cx - size}" y="${cy - size / 2}" width="${size * 2}" height="${size}" rx="${Math.round(size / 6)}" fill="${fill}" fill-opacity="${opacity}" transform="rotate(${angle} ${cx} ${cy})"/>`,
        );
        break;
      }
      default: {
        const points = [0, 1, 2]
          .map((k) => {
            const a = (k * 2 * Math.PI) / 3 + rng.unit();
            return `${Math.round(cx + Math.cos(a) * size)},${Math.round(cy + Math.sin(a) * size)}`;
          })
          .join(" ");
        parts.push(`<polygon points="${points}" fill="${fill}" fill-opacity="${opacity}"/>`);
      }
    }
  }
  return parts.join("");
}

function backgroundSvg(rng: HashStream, area: { width: number; height: number; body?: string }): string {
  const { width, height, body = "" } = area;
  const hue = rng.int(0, 359);
  const from = hsl({ h: hue, s: rng.int(50, 90), l: rng.int(20, 45) });
  const to = hsl({ h: (hue + rng.int(90, 220)) % 360, s: rng.int(50, 90), l: rng.int(50, 80) });
  const x2 = rng.unit().toFixed(2);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="${x2}" y2="1">` +
    `<stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="url(#bg)"/>${body}</svg>`
  );
}

function encode(image: Sharp, format: ImageFormat): Promise<Buffer> {
  return format === "png"
    ? image.png({ compressionLevel: 6 }).toBuffer()
    : image.jpeg({ quality: 88, mozjpeg: false }).toBuffer();
}

export async function renderTextToImage(options: {
  prompt: string;
  width: number;
  height: number;
  format: ImageFormat;
}): Promise<Buffer> {
  const rng = new HashStream(`text:${options.prompt}`);
  const { width, height } = options;
  const shapes = shapesSvg(rng, { width, height, count: rng.int(5, 9) });
  const svg = backgroundSvg(rng, { width, height, body: shapes });
  return encode(sharp(Buffer.from(svg)).flatten({ background: "#000" }), options.format);
}

export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageInputError";
  }
}

const ACCEPTED_INPUT_FORMATS = new Set(["jpeg", "png", "webp"]);
const MAX_INPUT_PIXELS = 100_000_000;

/** Checks that bytes are a jpeg/png/webp image and returns its size. */
export async function inspectInputImage(
  bytes: Buffer,
  label: string,
): Promise<{ width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch {
    throw new ImageInputError(`${label} is not a readable image`);
  }
  if (!meta.format || !ACCEPTED_INPUT_FORMATS.has(meta.format)) {
    throw new ImageInputError(
      `${label} is ${meta.format ?? "an unknown format"}; jpeg, png or webp expected`,
    );
  }
  if (!meta.width || !meta.height) throw new ImageInputError(`${label} has no dimensions`);
  if (meta.width * meta.height > MAX_INPUT_PIXELS) throw new ImageInputError(`${label} has too many pixels`);
  return { width: meta.width, height: meta.height };
}

/**
 * Composes the inputs in a grid over a prompt-coloured background, rotates their hue, posterizes
 * to four levels per channel and adds a frame; the result has exactly width × height pixels.
 */
export async function renderEdit(options: {
  prompt: string;
  inputs: Buffer[];
  width: number;
  height: number;
  format: ImageFormat;
}): Promise<Buffer> {
  const { width, height, inputs } = options;
  const rng = new HashStream(`edit:${options.prompt}`);
  const border = Math.max(2, Math.round(Math.min(width, height) * 0.04));
  const innerW = Math.max(1, width - 2 * border);
  const innerH = Math.max(1, height - 2 * border);

  const cols = Math.ceil(Math.sqrt(inputs.length));
  const rows = Math.ceil(inputs.length / cols);
  const tileW = Math.max(1, Math.floor(innerW / cols));
  const tileH = Math.max(1, Math.floor(innerH / rows));
  const tiles = await Promise.all(
    inputs.map((input, i) =>
      sharp(input, { limitInputPixels: MAX_INPUT_PIXELS })
        .rotate()
        .resize(tileW, tileH, { fit: "cover" })
        .png()
        .toBuffer()
        .then((tile) => ({ input: tile, left: (i % cols) * tileW, top: Math.floor(i / cols) * tileH })),
    ),
  );

  const background = backgroundSvg(rng, { width: innerW, height: innerH });
  const composed = await sharp(Buffer.from(background)).composite(tiles).png().toBuffer();

  const hue = rng.int(60, 300);
  const { data, info } = await sharp(composed)
    .modulate({ hue, saturation: 1.4 })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i]! / 85) * 85;

  const frame = { r: rng.int(0, 255), g: rng.int(0, 255), b: rng.int(0, 255) };
  const image = sharp(data, {
    raw: { width: info.width, height: info.height, channels: info.channels },
  }).extend({
    top: border,
    bottom: height - innerH - border,
    left: border,
    right: width - innerW - border,
    background: frame,
  });
  return encode(image, options.format);
}

/** Identifies common file types by their first bytes. */
export function sniffMimeType(bytes: Buffer): string | undefined {
  if (
    bytes.length >= 8 &&
    bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  ) {
    return "image/png";
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (
    bytes.length >= 12 &&
    bytes.toString("latin1", 0, 4) === "RIFF" &&
    bytes.toString("latin1", 8, 12) === "WEBP"
  ) {
    return "image/webp";
  }
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString("latin1", 0, 6))) return "image/gif";
  return undefined;
}

export const EXTENSION_BY_MIME: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
};

export const MIME_BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  txt: "text/plain",
  json: "application/json",
  pdf: "application/pdf",
};
