/**
 * Issue 24 item 1 in Chromium: an upload the server refuses early (413, a file over the limit)
 * must not leave the browser's keep-alive connection half-read, or the person's next action on
 * it (Generate with a good file) hangs and fails. The too-large upload is sent from the page
 * itself (the studio's own checks would stop it before the network), over the same connection
 * pool the studio then uses.
 */
import { expect, test } from "@playwright/test";
import { decodedResult, headerCredits, pngBytes, signInFast, uniqueEmail } from "./helpers";

test("a too-large upload refused by the server, then Generate with a good file works at once", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("keepalive"));
  await page.goto("/");
  await expect(headerCredits(page)).toHaveText("10 credits");

  const refused = await page.evaluate(async () => {
    const big = new Uint8Array(11 * 1024 * 1024);
    big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const form = new FormData();
    form.append("prompt", "too large");
    form.append("images", new File([big], "big.png", { type: "image/png" }));
    const response = await fetch("/api/generate", {
      method: "POST",
      body: form,
      headers: { prefer: "respond-async" },
    });
    return { status: response.status, code: (await response.json()).error?.code };
  });
  expect(refused).toEqual({ status: 413, code: "file_too_large" });

  const prompt = "a small green square, after a refused upload";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page.getByLabel("Reference images").setInputFiles({
    name: "green.png",
    mimeType: "image/png",
    buffer: await pngBytes(96, 64, "#2e9d5b"),
  });
  await page.getByRole("button", { name: /^Generate/ }).click();
  await decodedResult(page, prompt);
  await expect(page.getByRole("alert")).toHaveCount(0);
  await expect(headerCredits(page)).toHaveText("9 credits");
});
