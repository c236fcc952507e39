/**
 * The published API on the production server: /api/openapi.json and /api/models over real HTTP,
 * and /docs/api rendered for a real browser with nothing fetched from outside this server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

describe("the published API (npm start)", () => {
  let app: RunningApp;
  let browser: Browser;
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-e2e-docs-"));

  beforeAll(async () => {
    app = await startApp(
      {
        KIE_API_KEY: "",
        DATABASE_URL: "",
        SUPABASE_URL: "",
        SUPABASE_JWT_SECRET: "",
        MODEL_CREDITS: "nano-banana-pro=4",
      },
      { dataDir },
    );
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the OpenAPI document and the catalogue, publicly and cacheably", async () => {
    const doc = await fetch(`${app.url}/api/openapi.json`);
    expect(doc.status).toBe(200);
    expect(doc.headers.get("cache-control")).toMatch(/^public/);
    const body = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(["/api/generate", "/api/models"]));

    const models = await fetch(`${app.url}/api/models`);
    expect(models.status).toBe(200);
    const catalogue = (await models.json()) as { models: { id: string; credits: { default: number } }[] };
    expect(catalogue.models.find((m) => m.id === "nano-banana-pro")?.credits.default).toBe(4);
  });

  it("renders /docs/api as HTML a browser reads offline", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const outside: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(app.url)) outside.push(request.url());
    });
    const response = await page.goto(`${app.url}/docs/api`);
    expect(response?.status()).toBe(200);
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe(
      "Nano Banana Studio API",
    );
    await expect(
      page.getByRole("heading", { name: "POST /api/generate", exact: true }).count(),
    ).resolves.toBe(1);
    await expect(page.getByRole("cell", { name: "resolution?" }).count()).resolves.toBeGreaterThan(0);
    expect(outside).toEqual([]);
    await context.close();
  });
});
