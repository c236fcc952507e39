/**
 * Issue 25's studio and History flows that need no new API fields: the state in view next to
 * Generate, edits that replace the reference, a studio that keeps your work, credits checked before
 * sending, the server's warnings, and a History that deletes and pages through its dialog.
 */
import { type Browser, expect, type Page, test } from "@playwright/test";
import { decodedResult, generationsOf, signInFast, uniqueEmail } from "./helpers";

/** A laptop screen: the form is taller than the window, so Generate sits near the fold. */
async function laptop(browser: Browser, label: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await signInFast(page, uniqueEmail(label));
  await page.goto("/");
  return page;
}

const references = (page: Page) => page.getByRole("img", { name: /^Reference:/ });

test("the status and the error appear next to Generate, in view; focus goes to the result or the error", async ({
  browser,
}) => {
  const page = await laptop(browser, "in-view");
  const prompt = "a slow sunrise over the dunes [sim:delay=3000]";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page.getByRole("button", { name: /^Generate/ }).click();
  const status = page.getByRole("status");
  await expect(status).toContainText(/Queued|Generating…/);
  await expect(status).toBeInViewport();
  await decodedResult(page, prompt);
  await expect(page.getByRole("figure")).toBeFocused();
  await expect(page.getByRole("img", { name: prompt })).toBeInViewport();

  await page
    .getByRole("textbox", { name: "Prompt" })
    .fill("a forbidden subject [sim:fail=Blocked by the filter]");
  await page.getByRole("button", { name: /^Generate/ }).click();
  const alert = page.getByRole("alert").filter({ hasText: "Blocked by the filter" });
  await expect(alert).toBeInViewport();
  await expect(alert).toBeFocused();
  await page.context().close();
});

test("Edit this image makes the result the only reference, edit after edit", async ({ browser }) => {
  const page = await laptop(browser, "edit-chain");
  const prompt = page.getByRole("textbox", { name: "Prompt" });
  const steps = [
    "a red kite over a green hill",
    "make the kite blue",
    "add a small sun",
    "paint it as a woodcut",
  ];
  await prompt.fill(steps[0]!);
  await page.getByRole("button", { name: /^Generate/ }).click();
  await decodedResult(page, steps[0]!);
  for (const step of steps.slice(1)) {
    await page.getByRole("button", { name: "Edit this image" }).click();
    await expect(references(page)).toHaveCount(1);
    await expect(prompt).toBeFocused();
    await page.keyboard.type(step);
    await page.getByRole("button", { name: /^Generate/ }).click();
    await decodedResult(page, step);
    await expect(references(page)).toHaveCount(1);
  }
  const jobs = await generationsOf(page);
  expect(jobs.map((job) => job.type)).toEqual(["image_edit", "image_edit", "image_edit", "text_to_image"]);
  await page.context().close();
});
