/** GET /api/models: the catalogue with this server's prices, public and cacheable. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, type TestDatabase } from "../../helpers/database";

describe("GET /api/models", () => {
  let db: TestDatabase;
  let h: Harness;
  beforeAll(async () => {
    db = await createTestDatabase("pglite");
    h = await startHarness({
      database: db.database,
      env: { MODEL_CREDITS: "nano-banana-pro=4,nano-banana-pro:4K=8", CREDITS_PER_GENERATION: "2" },
    });
  });
  afterAll(async () => {
    await h?.close();
    await db?.dispose();
  });

  it("answers without sign-in, cacheable by anyone", async () => {
    const response = await h.fetch("/api/models");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toMatch(/^public, max-age=\d+/);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("lists every model with its options, defaults, limits, deprecation and the configured prices", async () => {
    const body = (await (await h.fetch("/api/models")).json()) as {
      success: boolean;
      models: { id: string; options: Record<string, unknown>; [key: string]: unknown }[];
    };
    expect(body.success).toBe(true);
    // Five entries, six KIE models: nano-banana runs google/nano-banana and google/nano-banana-edit.
    expect(body.models.map((m) => [m.id, m.kieModels])).toEqual([
      ["nano-banana", { text: "google/nano-banana", edit: "google/nano-banana-edit" }],
      ["nano-banana-pro", { text: "nano-banana-pro", edit: "nano-banana-pro" }],
      ["nano-banana-2-1", { text: "nano-banana-2-1", edit: "nano-banana-2-1" }],
      ["nano-banana-2", { text: "nano-banana-2", edit: "nano-banana-2" }],
      ["nano-banana-2-lite", { text: "nano-banana-2-lite", edit: "nano-banana-2-lite" }],
    ]);
    const [flash, pro, twoOne, two, lite] = body.models;
    expect(flash).toMatchObject({
      label: "Nano Banana",
      deprecated: null,
      options: { googleSearch: false, outputFormats: ["png", "jpeg"], aspectRatioRequired: false },
      defaults: { aspectRatio: "1:1", resolution: null, outputFormat: "png" },
      limits: { promptMaxChars: 5000, maxImages: 5, kie: { maxImages: 10 } },
      credits: { default: 2 },
    });
    expect(flash?.options).not.toHaveProperty("resolutions");
    expect(flash?.options.aspectRatios).not.toContain("1:8");
    expect(pro).toMatchObject({
      deprecated: null,
      options: { resolutions: ["1K", "2K", "4K"], defaultResolution: "1K", googleSearch: false },
      defaults: { aspectRatio: "1:1", resolution: "1K", outputFormat: "png" },
      limits: { promptMaxChars: 5000, maxImages: 5, kie: { promptMaxChars: 10000, maxImages: 8 } },
      credits: { default: 4, byResolution: { "1K": 4, "2K": 4, "4K": 8 } },
    });
    // Not in MODEL_CREDITS: KIE's cost in proportion, CREDITS_PER_GENERATION (2) buying its cheapest image.
    expect(twoOne).toMatchObject({
      deprecated: null,
      options: { googleSearch: false, outputFormats: ["png", "jpeg"] },
      defaults: { aspectRatio: "auto", resolution: "1K", outputFormat: "jpeg" },
      limits: { promptMaxChars: 5000, maxImages: 5, kie: { promptMaxChars: 20000, maxImages: 10 } },
      credits: { default: 2, byResolution: { "1K": 2, "2K": 3, "4K": 5 } },
    });
    expect(two).toMatchObject({
      deprecated: { successor: "nano-banana-2-1", reason: expect.stringContaining("Nano Banana 2.1") },
      options: { googleSearch: false },
      defaults: { aspectRatio: "auto", resolution: "1K", outputFormat: "jpeg" },
      credits: { default: 4, byResolution: { "1K": 4, "2K": 6, "4K": 9 } },
    });
    expect(two?.options.aspectRatios).toEqual(expect.arrayContaining(["1:4", "4:1", "1:8", "8:1"]));
    expect(lite).toMatchObject({
      deprecated: null,
      options: { aspectRatioRequired: true, googleSearch: false, outputFormats: [] },
      defaults: { aspectRatio: "1:1", resolution: null, outputFormat: null },
      limits: { maxImages: 5, kie: { promptMaxChars: 20000, maxImages: 10 } },
      credits: { default: 2 },
    });
    expect(lite?.options).not.toHaveProperty("resolutions");
  });
});
