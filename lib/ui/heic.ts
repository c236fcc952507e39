/**
 * HEIC/HEIF → JPEG in the browser with heic-to (libheif in WebAssembly, LGPL-3.0; README
 * "Credits"). Imported only by a dynamic import() when a HEIC file arrives, so the ~3 MB
 * converter is a chunk of its own and never part of the studio's first load. The `csp` build
 * evaluates no strings: the page's CSP allows WebAssembly ('wasm-unsafe-eval') and nothing more.
 */
import { heicTo } from "heic-to/csp";

export async function heicToJpeg(file: File): Promise<File> {
  const blob = await heicTo({ blob: file, type: "image/jpeg", quality: 0.92 });
  const name = `${file.name.replace(/\.[^.]*$/, "")}.jpg`;
  return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
}
