/** The studio's model order (issue 26): the successor of a model being retired comes first. */
import { describe, expect, it } from "vitest";
import { pickerOrder, publicCatalog } from "@/lib/catalog";

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
