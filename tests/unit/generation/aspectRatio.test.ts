import { describe, expect, it } from "vitest";
import { aspectRatioWarning } from "@/lib/generation/aspectRatio";

describe("aspect-ratio mismatch warning", () => {
  it.each([
    ["16:9", 1344, 768],
    ["9:16", 768, 1344],
    ["4:3", 1184, 864],
    ["21:9", 1536, 672],
    ["4:5", 896, 1152],
    ["1:1", 1024, 1024],
  ])("accepts Nano Banana's own size for %s (%i×%i)", (ratio, width, height) => {
    expect(aspectRatioWarning(ratio, width, height)).toBeUndefined();
  });

  it("says so when the model ignored the ratio", () => {
    expect(aspectRatioWarning("16:9", 1024, 1024)).toBe(
      "The image is 1024×1024 (about 1:1), not the 16:9 you asked for: the model does not always follow the aspect ratio.",
    );
    expect(aspectRatioWarning("9:16", 1344, 768)).toMatch(/about 16:9\), not the 9:16/);
  });

  it("has nothing to compare for auto, no ratio or a malformed one", () => {
    expect(aspectRatioWarning("auto", 1024, 500)).toBeUndefined();
    expect(aspectRatioWarning(undefined, 1024, 500)).toBeUndefined();
    expect(aspectRatioWarning("16x9", 1024, 500)).toBeUndefined();
  });
});
