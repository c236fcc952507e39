import { beforeAll, describe, expect, it, vi } from "vitest";
import { classifyError } from "@/lib/http/errors";
import {
  FileTooLargeError,
  ImageTooManyPixelsError,
  InvalidDataUriError,
  parseDataUri,
  TooManyImagesError,
  UnsupportedMediaTypeError,
  validateImageCount,
  validateImageFile,
} from "@/lib/security";
import { HTML, jpegBomb, makeImage, PDF, pngBomb, SVG, TEXT } from "./fixtures";

const MiB = 1024 * 1024;
const limits = { maxBytes: 10 * MiB };

let png: Buffer;
let jpeg: Buffer;
let webp: Buffer;
let gif: Buffer;

beforeAll(async () => {
  [png, jpeg, webp, gif] = await Promise.all([
    makeImage("png", 64, 48),
    makeImage("jpeg", 64, 48),
    makeImage("webp", 64, 48),
    makeImage("gif", 64, 48),
  ]);
});

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a refusal, but the file was accepted");
    },
    (error: unknown) => error,
  );
}

describe("validateImageFile: accepted images", () => {
  it.each([
    ["png", "image/png"],
    ["jpeg", "image/jpeg"],
    ["webp", "image/webp"],
  ] as const)(
    "accepts a real %s, from bytes or a Blob, with its size and dimensions",
    async (format, mime) => {
      const bytes = { png, jpeg, webp }[format];
      const expected = { mimeType: mime, width: 64, height: 48, size: bytes.byteLength, orientation: 1 };
      expect(await validateImageFile({ data: new Uint8Array(bytes) }, limits)).toEqual(expected);
      const blob = new Blob([new Uint8Array(bytes)], { type: "application/octet-stream" });
      expect(await validateImageFile({ data: blob, name: "upload.bin" }, limits)).toEqual(expected);
    },
  );

  it("reports the type of the bytes, not the one the client declared", async () => {
    const result = await validateImageFile(
      { data: jpeg, name: "photo.png", declaredType: "image/png" },
      limits,
    );
    expect(result.mimeType).toBe("image/jpeg");
  });
});

describe("validateImageFile: refused by magic bytes (415)", () => {
  const cases: [string, () => Uint8Array, string][] = [
    // file-type reads an <?xml …?> prolog as application/xml; a bare <svg> as nothing known.
    ["an SVG (scriptable)", () => SVG, "not_allowed"],
    [
      "an SVG without an XML prolog",
      () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      "unrecognized",
    ],
    ["a GIF", () => gif, "not_allowed"],
    ["plain text", () => TEXT, "unrecognized"],
    ["HTML", () => HTML, "unrecognized"],
    ["a PDF", () => PDF, "not_allowed"],
    ["an empty file", () => new Uint8Array(0), "unrecognized"],
    ["a PNG cut inside its header", () => png.subarray(0, 30), "corrupt"],
    ["a PNG signature followed by junk", () => Buffer.concat([png.subarray(0, 8), TEXT]), "unrecognized"],
  ];

  it.each(cases)("refuses %s", async (_label, bytes, reason) => {
    const error = await refusal(validateImageFile({ data: bytes() }, limits));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect((error as UnsupportedMediaTypeError).reason).toBe(reason);
    expect(classifyError(error)).toMatchObject({ status: 415, code: "unsupported_media_type" });
  });

  it("refuses a text file renamed .png and declared image/png", async () => {
    const blob = new Blob([TEXT], { type: "image/png" });
    const error = await refusal(
      validateImageFile({ data: blob, name: "cat.png", declaredType: "image/png" }, limits),
    );
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(classifyError(error).status).toBe(415);
  });

  it("names the detected type of a known but refused format in the message", async () => {
    const error = await refusal(validateImageFile({ data: gif }, limits));
    expect((error as Error).message).toContain("image/gif");
  });
});

describe("validateImageFile: size (413) is checked before anything is read", () => {
  it("refuses an 11 MiB Blob with maxBytes 10 MiB without reading any of it", async () => {
    const blob = new Blob([new Uint8Array(11 * MiB)]);
    const reads = [
      vi.spyOn(blob, "slice"),
      vi.spyOn(blob, "arrayBuffer"),
      vi.spyOn(blob, "stream"),
      vi.spyOn(blob, "text"),
    ];
    const error = await refusal(validateImageFile({ data: blob }, { maxBytes: 10 * MiB }));
    expect(error).toBeInstanceOf(FileTooLargeError);
    expect(error).toMatchObject({ size: 11 * MiB, maxBytes: 10 * MiB });
    expect(classifyError(error)).toMatchObject({ status: 413, code: "file_too_large" });
    expect((error as Error).message).toContain("10 MiB");
    for (const read of reads) expect(read).not.toHaveBeenCalled();
  });

  it("refuses bytes one over the limit and accepts exactly the limit", async () => {
    await expect(validateImageFile({ data: png }, { maxBytes: png.byteLength - 1 })).rejects.toBeInstanceOf(
      FileTooLargeError,
    );
    await expect(validateImageFile({ data: png }, { maxBytes: png.byteLength })).resolves.toMatchObject({
      mimeType: "image/png",
    });
  });

  it("reads only the head of a Blob to sniff it", async () => {
    const blob = new Blob([new Uint8Array(png)]);
    const slice = vi.spyOn(blob, "slice");
    await validateImageFile({ data: blob }, limits);
    expect(slice).toHaveBeenCalledWith(0, 4100);
  });
});

describe("validateImageFile: pixel bombs", () => {
  it("refuses a PNG of a few hundred bytes declaring 30000×30000 pixels", async () => {
    const bomb = pngBomb(30_000, 30_000);
    expect(bomb.byteLength).toBeLessThan(1024);
    const error = await refusal(validateImageFile({ data: bomb }, limits));
    expect(error).toBeInstanceOf(ImageTooManyPixelsError);
    expect(classifyError(error)).toMatchObject({ status: 400, code: "invalid_request" });
    expect((error as Error).message).toMatch(/50 megapixels/);
  });

  it("refuses a JPEG whose frame header declares 60000×60000", async () => {
    const error = await refusal(validateImageFile({ data: await jpegBomb(60_000, 60_000) }, limits));
    expect(error).toBeInstanceOf(ImageTooManyPixelsError);
  });

  it("refuses a real image over a lower pixel limit and accepts it at the limit", async () => {
    const wide = await makeImage("png", 2000, 600);
    await expect(
      validateImageFile({ data: wide }, { maxBytes: MiB, maxPixels: 1_000_000 }),
    ).rejects.toBeInstanceOf(ImageTooManyPixelsError);
    await expect(
      validateImageFile({ data: wide }, { maxBytes: MiB, maxPixels: 1_200_000 }),
    ).resolves.toMatchObject({
      width: 2000,
      height: 600,
    });
  });

  it("accepts a modest header-declared size under the default limit", async () => {
    await expect(validateImageFile({ data: pngBomb(4000, 3000) }, limits)).resolves.toMatchObject({
      width: 4000,
      height: 3000,
    });
  });
});

describe("validateImageCount", () => {
  it("accepts 0 to 5 images and refuses 6 as invalid_request", () => {
    for (const n of [0, 1, 5]) expect(() => validateImageCount(n)).not.toThrow();
    const error = (() => {
      try {
        validateImageCount(6);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TooManyImagesError);
    expect(classifyError(error)).toMatchObject({ status: 400, code: "invalid_request" });
    expect((error as Error).message).toContain("At most 5");
  });

  it("honours a custom maximum", () => {
    expect(() => validateImageCount(3, 2)).toThrow(TooManyImagesError);
  });
});

describe("parseDataUri", () => {
  const uri = (type: string, bytes: Uint8Array) =>
    `data:${type};base64,${Buffer.from(bytes).toString("base64")}`;

  it("decodes and validates a PNG data URI, returning its bytes", async () => {
    const result = await parseDataUri(uri("image/png", png), limits);
    expect(result).toMatchObject({ mimeType: "image/png", width: 64, height: 48, size: png.byteLength });
    expect(Buffer.from(result.data).equals(png)).toBe(true);
  });

  it("accepts JPEG (also spelled image/jpg) and WebP", async () => {
    await expect(parseDataUri(uri("image/jpeg", jpeg), limits)).resolves.toMatchObject({
      mimeType: "image/jpeg",
    });
    await expect(parseDataUri(uri("image/jpg", jpeg), limits)).resolves.toMatchObject({
      mimeType: "image/jpeg",
    });
    await expect(parseDataUri(uri("IMAGE/WEBP", webp), limits)).resolves.toMatchObject({
      mimeType: "image/webp",
    });
  });

  it("refuses a declared type the bytes contradict (415)", async () => {
    const error = await refusal(parseDataUri(uri("image/png", jpeg), limits));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error).toMatchObject({ reason: "type_mismatch" });
    expect(classifyError(error).status).toBe(415);
  });

  it.each([
    ["an SVG data URI", () => uri("image/svg+xml", SVG)],
    ["a text data URI", () => uri("text/plain", TEXT)],
    ["a data URI without a media type (text/plain)", () => uri("", png)],
    ["HTML declared as PNG", () => uri("image/png", HTML)],
    ["a GIF declared as PNG", () => uri("image/png", gif)],
  ])("refuses %s (415)", async (_label, make) => {
    const error = await refusal(parseDataUri(make(), limits));
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
  });

  it.each([
    ["an https URL", "https://example.com/a.png", "not_data_uri"],
    ["a data URI without a comma", "data:image/png;base64", "not_data_uri"],
    ["a percent-encoded (not base64) data URI", "data:image/png,%89PNG", "not_base64"],
    ["invalid base64 characters", "data:image/png;base64,iVBOR!w0KGgo=", "bad_base64"],
    ["base64 of impossible length", "data:image/png;base64,iVBORw0KG", "bad_base64"],
  ])("refuses %s as invalid_request", async (_label, text, reason) => {
    const error = await refusal(parseDataUri(text, limits));
    expect(error).toBeInstanceOf(InvalidDataUriError);
    expect(error).toMatchObject({ reason });
    expect(classifyError(error)).toMatchObject({ status: 400, code: "invalid_request" });
  });

  it("refuses an oversized payload by its length, before decoding or sniffing it", async () => {
    // 12 MiB of "A" would decode to zeros (not an image): a 413 proves the size came first.
    const error = await refusal(parseDataUri(`data:image/png;base64,${"A".repeat(16 * MiB)}`, limits));
    expect(error).toBeInstanceOf(FileTooLargeError);
    expect(classifyError(error).status).toBe(413);
  });

  it("refuses a pixel bomb inside a data URI", async () => {
    await expect(parseDataUri(uri("image/png", pngBomb()), limits)).rejects.toBeInstanceOf(
      ImageTooManyPixelsError,
    );
  });
});
