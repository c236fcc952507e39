/**
 * `Range` and `If-Range` of a request for one of our stored images (RFC 9110 §13.1.5, §14.2).
 * Anything but one well-formed byte range is ignored — the whole image is sent (200), which the
 * RFC allows — so a list of ranges, an overlapping or reversed one, or a number too long to be
 * exact never costs more than one plain answer.
 */
import type { ByteRangeSpec } from "@/lib/storage/range";

/** 15 digits stay below 2^53: every offset is exact, and no file here comes near. */
const SINGLE_RANGE = /^bytes=(?:(\d{1,15})-(\d{0,15})|-(\d{1,15}))$/i;

/**
 * The range to serve, or undefined for the whole image (no header, or one we ignore). `If-Range`
 * is the image library's to check: only it knows the image's ETag.
 */
export function requestedRange(range: string | null): ByteRangeSpec | undefined {
  if (range === null) return undefined;
  const match = SINGLE_RANGE.exec(range.trim());
  if (!match) return undefined;
  const [, first, last, suffix] = match;
  if (suffix !== undefined) return { suffix: Number(suffix) };
  const start = Number(first);
  if (last === "") return { start };
  const end = Number(last);
  // A last position before the first is invalid syntax: ignored, not refused (RFC 9110 §14.1.1).
  return end < start ? undefined : { start, end };
}
