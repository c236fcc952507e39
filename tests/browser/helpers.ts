import { mkdirSync } from "node:fs";
import path from "node:path";
import { type APIRequestContext, expect, type Page } from "@playwright/test";
import sharp from "sharp";

const root = path.resolve(import.meta.dirname, "..", "..");

/** Screenshots go to docs/screenshots/ with UPDATE_SCREENSHOTS=1, else next to the test results. */
export async function shot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  const dir = process.env.UPDATE_SCREENSHOTS
    ? path.join(root, "docs", "screenshots")
    : path.join(root, "test-results", "browser", "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: options.fullPage ?? false });
}

let counter = 0;
/** A fresh person for each test: their own credits and history. */
export function uniqueEmail(label: string): string {
  counter++;
  return `${label}-${Date.now().toString(36)}-${counter}@example.com`;
}

/** Dev sign-in through the API; the browser context shares the cookie it sets. */
export async function signInFast(page: Page, email: string): Promise<void> {
  const response = await page.request.post("/api/auth/dev", { data: { email } });
  expect(response.status()).toBe(200);
}

/**
 * A cookie-authenticated POST must say it comes from this origin (DESIGN.md §3). Like any careful
 * client it sends an Idempotency-Key and retries once when the connection is reset under it (a
 * pooled keep-alive connection the server closed as it was reused): the key makes that safe.
 */
export function sameOrigin(request: APIRequestContext, baseURL: string) {
  return {
    generate: async (data: Record<string, unknown>) => {
      const send = () =>
        request.post("/api/generate", {
          data,
          headers: { origin: baseURL, prefer: "respond-async", "idempotency-key": key },
        });
      const key = crypto.randomUUID();
      try {
        return await send();
      } catch (error) {
        if (!/ECONNRESET|EPIPE|socket hang up/.test(String(error))) throw error;
        return send();
      }
    },
  };
}

export async function balanceOf(page: Page): Promise<number> {
  const body = await (await page.request.get("/api/credits")).json();
  return body.balance;
}

export async function generationsOf(
  page: Page,
): Promise<Array<{ taskId: string; status: string; prompt: string; type: string }>> {
  const body = await (await page.request.get("/api/generations")).json();
  return body.generations;
}

export async function pngBytes(width: number, height: number, color: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();
}

/** The credits text in the header ("9 credits"). */
export function headerCredits(page: Page) {
  return page.getByRole("banner").getByText(/^\d+ credits$/);
}

/** Waits until the result <img> for `prompt` is decoded and returns its natural size. */
export async function decodedResult(page: Page, prompt: string): Promise<{ width: number; height: number }> {
  const image = page.getByRole("img", { name: prompt, exact: true });
  await expect(image).toBeVisible();
  await expect
    .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0))
    .toBe(true);
  await image.evaluate((img: HTMLImageElement) => img.decode());
  return image.evaluate((img: HTMLImageElement) => ({ width: img.naturalWidth, height: img.naturalHeight }));
}
