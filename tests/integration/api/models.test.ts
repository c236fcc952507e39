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

  it("lists every model with its options, limits and the configured prices", async () => {
    const body = (await (await h.fetch("/api/models")).json()) as {
      success: boolean;
      models: { id: string; options: Record<string, unknown>; limits: unknown; credits: unknown }[];
    };
    expect(body.success).toBe(true);
    expect(body.models.map((m) => m.id)).toEqual(["nano-banana", "nano-banana-pro", "nano-banana-2"]);
    const [flash, pro, two] = body.models;
    expect(flash).toMatchObject({
      label: "Nano Banana",
      options: { googleSearch: false, outputFormats: ["png", "jpeg"] },
      limits: { promptMaxChars: 5000, maxImages: 5, kie: { maxImages: 10 } },
      credits: { default: 2 },
    });
    expect(flash?.options).not.toHaveProperty("resolutions");
    expect(flash?.options.aspectRatios).not.toContain("1:8");
    expect(pro).toMatchObject({
      options: { resolutions: ["1K", "2K", "4K"], defaultResolution: "1K", googleSearch: false },
      limits: { promptMaxChars: 5000, maxImages: 5, kie: { promptMaxChars: 10000, maxImages: 8 } },
      credits: { default: 4, byResolution: { "1K": 4, "2K": 4, "4K": 8 } },
    });
    expect(two).toMatchObject({ options: { googleSearch: true }, credits: { default: 2 } });
    expect(two?.options.aspectRatios).toEqual(expect.arrayContaining(["1:4", "4:1", "1:8", "8:1"]));
  });
});
