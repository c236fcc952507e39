/** Real images made with sharp, and hand-made files that only look like images. */
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";

export async function makeImage(
  format: "png" | "jpeg" | "webp" | "gif",
  width = 64,
  height = 48,
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .toFormat(format)
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed) >>> 0);
  return Buffer.concat([length, typed, crc]);
}

/**
 * A valid-looking PNG of a few hundred bytes whose header declares width × height (8-bit grey):
 * a decoder would allocate width × height bytes before noticing the data is short.
 */
export function pngBomb(width = 30_000, height = 30_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(Buffer.alloc((width + 1) * 4))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A real JPEG whose start-of-frame header is rewritten to declare width × height. */
export async function jpegBomb(width = 60_000, height = 60_000): Promise<Buffer> {
  const jpeg = Buffer.from(await makeImage("jpeg", 16, 16));
  for (let i = 2; i < jpeg.length - 9; i++) {
    // SOF0..SOF2 marker: FF C0..C2, length(2), precision(1), height(2), width(2)
    if (jpeg[i] === 0xff && jpeg[i + 1] !== undefined && jpeg[i + 1]! >= 0xc0 && jpeg[i + 1]! <= 0xc2) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
  }
  throw new Error("no start-of-frame marker in the JPEG made by sharp");
}

export const SVG = Buffer.from(
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
);
export const HTML = Buffer.from(
  "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
);
export const TEXT = Buffer.from("just some text, not an image\n");
export const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
);
