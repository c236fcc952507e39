/**
 * Nano Banana sometimes ignores the requested aspect ratio (DESIGN issue 14 §6): the delivered
 * image's size is compared with the request and a mismatch becomes a warning on the job, never
 * hidden. Its own sizes are approximations (16:9 is 1344×768, 1.75), so only a difference over
 * 5 % counts.
 */

import { ASPECT_RATIOS } from "@/lib/catalog";

const TOLERANCE = 0.05;
/** Every ratio a model may be asked for, to name the one an image comes closest to. */
const NAMED_RATIOS = ASPECT_RATIOS.filter((ratio) => ratio !== "auto");

/** "16:9" → 16/9; "auto", absent or malformed → undefined (nothing to compare). */
export function ratioOf(aspectRatio: string | undefined): number | undefined {
  const match = /^(\d{1,3}):(\d{1,3})$/.exec(aspectRatio ?? "");
  if (!match) return undefined;
  const [w, h] = [Number(match[1]), Number(match[2])];
  return w > 0 && h > 0 ? w / h : undefined;
}

/** The warning for an image of `width`×`height` delivered for `aspectRatio`, or undefined. */
export function aspectRatioWarning(
  aspectRatio: string | undefined,
  width: number,
  height: number,
): string | undefined {
  const wanted = ratioOf(aspectRatio);
  if (wanted === undefined || width <= 0 || height <= 0) return undefined;
  const actual = width / height;
  if (Math.abs(actual - wanted) / wanted <= TOLERANCE) return undefined;
  return (
    `The image is ${width}×${height} (about ${describeRatio(actual)}), not the ${aspectRatio} you asked for: ` +
    "the model does not always follow the aspect ratio."
  );
}

function describeRatio(ratio: number): string {
  let best = "1:1";
  let bestError = Number.POSITIVE_INFINITY;
  for (const candidate of NAMED_RATIOS) {
    const error = Math.abs(Math.log(ratio / (ratioOf(candidate) as number)));
    if (error < bestError) {
      best = candidate;
      bestError = error;
    }
  }
  return best;
}
