/** Issue 27: the browser's own reading of phone photos and image links (lib/ui). */
import { readFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { jpegOrientation } from "@/lib/ui/exif";
import { fitPixels, isHeif, sniffImageType } from "@/lib/ui/files";
import { linkIn, linkReference } from "@/lib/ui/links";

const jpeg = (orientation?: number) => {
  const image = sharp({ create: { width: 8, height: 6, channels: 3, background: "#c33" } }).jpeg();
  return (orientation ? image.withMetadata({ orientation }) : image).toBuffer();
};

describe("EXIF orientation of a JPEG", () => {
  it.each([1, 3, 6, 8])(
    "reads orientation %i as written by a camera (sharp/libexif)",
    async (orientation) => {
      expect(jpegOrientation(new Uint8Array(await jpeg(orientation)))).toBe(orientation);
    },
  );
  it("is 1 without EXIF, for a truncated head, and for what is not a JPEG", async () => {
    expect(jpegOrientation(new Uint8Array(await jpeg()))).toBe(1);
    expect(jpegOrientation(new Uint8Array(await jpeg(6)).subarray(0, 20))).toBe(1);
    expect(jpegOrientation(new TextEncoder().encode("\x89PNG\r\n\x1a\n"))).toBe(1);
  });
});

describe("HEIC by magic bytes", () => {
  it("recognises the repo's HEVC fixture and the brands phones write, not AVIF or a PNG", () => {
    const fixture = readFileSync(path.join(import.meta.dirname, "..", "..", "fixtures", "portrait.heic"));
    expect(isHeif(new Uint8Array(fixture))).toBe(true);
    expect(sniffImageType(new Uint8Array(fixture))).toBeUndefined();
    const box = (brand: string) => new Uint8Array([0, 0, 0, 24, ...new TextEncoder().encode(`ftyp${brand}`)]);
    for (const brand of ["heic", "heix", "hevc", "mif1", "msf1"]) expect(isHeif(box(brand))).toBe(true);
    expect(isHeif(box("avif"))).toBe(false);
    expect(isHeif(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]))).toBe(false);
  });
});

describe("scaling down", () => {
  it("caps the longest side at 2048 px as well as the pixel count", () => {
    const [w, h] = fitPixels(8000, 1000);
    expect(w).toBe(2048);
    expect(h).toBe(256);
    expect(fitPixels(2048, 900)).toEqual([2048, 900]);
  });
});

describe("image links", () => {
  it("takes an https link, named by its file, from a paste or a uri-list", () => {
    expect(linkReference(" https://img.example/a/b%20c.jpg?x=1 ")).toEqual({
      ok: true,
      url: "https://img.example/a/b%20c.jpg?x=1",
      name: "b c.jpg",
    });
    expect(linkIn("# from a tab\r\nhttps://img.example/cat.png\r\n")).toBe("https://img.example/cat.png");
    expect(linkReference("https://img.example/")).toMatchObject({ ok: true, name: "img.example" });
  });
  it("refuses plain http (the model fetches it) and text that is not a link, saying why", () => {
    expect(linkReference("http://img.example/cat.png")).toMatchObject({ ok: false, reason: /Only https/ });
    expect(linkReference("a cat on a sofa")).toMatchObject({ ok: false });
    expect(linkIn("see https://img.example/cat.png")).toBeUndefined();
  });
});
