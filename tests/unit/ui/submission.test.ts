import { describe, expect, it } from "vitest";
import type { GenerateInput } from "@/lib/ui/api";
import { newIdempotencyKey, sameInput, submissionFor } from "@/lib/ui/submission";

const red = new File([new Uint8Array([1])], "red.png", { type: "image/png" });
const blue = new File([new Uint8Array([1])], "red.png", { type: "image/png" });
const input = (over: Partial<GenerateInput> = {}): GenerateInput => ({
  prompt: "a banana",
  model: "nano-banana",
  aspectRatio: "1:1",
  outputFormat: "png",
  resolution: "1K",
  googleSearch: false,
  files: [red],
  ...over,
});

describe("one Idempotency-Key per submission (issue 22 item 16)", () => {
  const keys = () => {
    let n = 0;
    return () => `key-${++n}`;
  };

  it("sends the same inputs again under the same key until the job is accepted", () => {
    const newKey = keys();
    const first = submissionFor(undefined, input(), newKey);
    expect(first.key).toBe("key-1");
    // A network error: the studio says "try again", the person clicks Generate again.
    const retry = submissionFor(first, input(), newKey);
    expect(retry.key).toBe("key-1");
    // Accepted: the studio forgets the pending submission, so "Again" is a new job.
    expect(submissionFor(undefined, input(), newKey).key).toBe("key-2");
  });

  it.each<[string, Partial<GenerateInput>]>([
    ["the prompt", { prompt: "a pear" }],
    ["the model", { model: "nano-banana-pro" }],
    ["the ratio", { aspectRatio: "16:9" }],
    ["the format", { outputFormat: "jpeg" }],
    ["the resolution", { resolution: "2K" }],
    ["Google search", { googleSearch: true }],
    ["a reference (another file with the same name)", { files: [blue] }],
    ["a reference added", { files: [red, blue] }],
    ["every reference removed", { files: [] }],
  ])("changing %s makes a new submission with a new key", (_what, change) => {
    const newKey = keys();
    const first = submissionFor(undefined, input(), newKey);
    const changed = submissionFor(first, input(change), newKey);
    expect(changed.key).toBe("key-2");
    expect(changed.input).toEqual(input(change));
    expect(sameInput(input(), input(change))).toBe(false);
  });

  it("new keys are distinct and fit the header (≤ 255 printable characters)", () => {
    const made = new Set(Array.from({ length: 50 }, () => newIdempotencyKey()));
    expect(made.size).toBe(50);
    for (const key of made) expect(key).toMatch(/^[\x20-\x7E]{1,255}$/);
    expect(submissionFor(undefined, input()).key).toMatch(/^[\x20-\x7E]{1,255}$/);
  });
});
