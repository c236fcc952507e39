/** The studio's model order (issue 26): the successor of a model being retired comes first. */
import { describe, expect, it } from "vitest";
import { pickerOrder, publicCatalog, retiringModelWarning } from "@/lib/catalog";

const catalog = publicCatalog({ perGeneration: 1, byModel: {} }, 10 * 1024 * 1024);
const ids = (defaultId?: string) => pickerOrder(catalog, defaultId).map((m) => m.id);

describe("pickerOrder", () => {
  it("puts the configured default first and every successor ahead of the model it replaces", () => {
    expect(ids("nano-banana")).toEqual([
      "nano-banana",
      "nano-banana-pro",
      "nano-banana-2-1",
      "nano-banana-2",
      "nano-banana-2-lite",
    ]);
    expect(ids("nano-banana-pro")[0]).toBe("nano-banana-pro");
  });

  it("starts on the successor when the configured default is being retired (KIE_MODEL itself is unchanged)", () => {
    expect(ids("nano-banana-2")).toEqual([
      "nano-banana-2-1",
      "nano-banana",
      "nano-banana-pro",
      "nano-banana-2",
      "nano-banana-2-lite",
    ]);
  });
});

describe("retiringModelWarning (logged at start-up)", () => {
  it("names KIE_MODEL / KIE_EDIT_MODEL when they run a model being retired, and its successor", () => {
    expect(
      retiringModelWarning({ textModel: "google/nano-banana", editModel: "google/nano-banana-edit" }),
    ).toBe(undefined);
    expect(retiringModelWarning({ textModel: "nano-banana-2", editModel: "nano-banana-2-1" })).toMatch(
      /^KIE_MODEL=nano-banana-2 is being retired \(.+\); set KIE_MODEL=nano-banana-2-1 to move$/,
    );
    expect(retiringModelWarning({ textModel: "nano-banana-2", editModel: "nano-banana-2" })).toContain(
      "set KIE_EDIT_MODEL=nano-banana-2-1",
    );
  });
});
