/**
 * One byte range of a stored file (RFC 9110 §14): what `Range: bytes=…` asked for, resolved
 * against the file's size. Only a single range is served; lib/http/range.ts parses the header.
 */

/** `bytes=a-b` / `bytes=a-` (start, end?) or `bytes=-n` (the last n bytes). */
export type ByteRangeSpec = { start: number; end?: number } | { suffix: number };

/** Inclusive offsets, as Content-Range writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The range within a file of `size` bytes, or "unsatisfiable" (416) when it selects no byte: a
 * start at or past the end, a suffix of 0, or any range of an empty file. An end past the file is
 * cut to its last byte, and a suffix longer than the file is the whole file (RFC 9110 §14.1.2).
 */
export function resolveRange(spec: ByteRangeSpec, size: number): ByteRange | "unsatisfiable" {
  if (size <= 0) return "unsatisfiable";
  if ("suffix" in spec) {
    if (spec.suffix <= 0) return "unsatisfiable";
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.start >= size) return "unsatisfiable";
  return { start: spec.start, end: Math.min(spec.end ?? size - 1, size - 1) };
}
