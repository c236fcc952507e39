/**
 * Issue 25's studio and History flows that need no new API fields: the state in view next to
 * Generate, edits that replace the reference, a studio that keeps your work, credits checked before
 * sending, the server's warnings, and a History that deletes and pages through its dialog.
 */
import { type Browser, expect, type Page, test } from "@playwright/test";
import {
  balanceOf,
  decodedResult,
  generationsOf,
  headerCredits,
  pngBytes,
  sameOrigin,
  shot,
  signInFast,
  uniqueEmail,
} from "./helpers";

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
  // Any running state: in our line for KIE's create budget, queued at KIE, or generating.
  await expect(status).toContainText(/In line|Queued|Generating…/);
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

test("a reload keeps the draft; the last result is still there after a visit to History", async ({
  browser,
  baseURL,
}) => {
  const page = await laptop(browser, "keeps-work");
  const draft = "a tram in the rain, seen from a café";
  await page.getByRole("textbox", { name: "Prompt" }).fill(draft);
  await page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "4:3" }).check();
  await page.getByRole("radio", { name: "JPEG" }).check();
  await page.getByLabel("Reference images").setInputFiles({
    name: "tram.png",
    mimeType: "image/png",
    buffer: await pngBytes(80, 60, "#3a6ea5"),
  });
  await expect(references(page)).toHaveCount(1);

  await page.reload();
  await expect(page.getByRole("textbox", { name: "Prompt" })).toHaveValue(draft);
  await expect(
    page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "4:3" }),
  ).toBeChecked();
  await expect(page.getByRole("radio", { name: "JPEG" })).toBeChecked();
  await expect(references(page)).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Remove tram.png" })).toBeVisible();

  await page.getByRole("button", { name: /^Generate/ }).click();
  await decodedResult(page, draft);
  await page.getByRole("link", { name: "History" }).click();
  await expect(page).toHaveURL(/\/history$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await decodedResult(page, draft);

  // The feed is the server's: a job made elsewhere (another tab, the API) shows up, newest first.
  const elsewhere = "a job made in another tab";
  const answer = await sameOrigin(page.request, baseURL!).generate({ prompt: elsewhere });
  const { taskId } = await answer.json();
  await expect
    .poll(async () => (await (await page.request.get(`/api/generate/${taskId}`)).json()).status)
    .toBe("succeeded");
  await page.goto("/");
  await decodedResult(page, elsewhere);
  await page.getByRole("button", { name: "Show result 1" }).click();
  await decodedResult(page, draft);
  await page.context().close();
});

test("Generate compares the balance with the price before sending", async ({ browser, baseURL }) => {
  const page = await laptop(browser, "short");
  const api = sameOrigin(page.request, baseURL!);
  // 8 of the 10 credits are reserved by jobs made through the API: 2 are left.
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => api.generate({ prompt: `spend ${i}` })),
  );
  expect(answers.map((answer) => answer.status())).toEqual(Array(8).fill(202));
  await page.reload();
  await expect(headerCredits(page)).toHaveText("2 credits");
  await page.getByRole("textbox", { name: "Prompt" }).fill("a lighthouse, in detail");
  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /Nano Banana Pro/ })
    .check();
  const generate = page.getByRole("button", { name: /^Generate/ });
  await expect(generate).toBeDisabled();
  await expect(generate).toHaveAccessibleDescription("You have 2 credits; this needs 4.");
  await expect(page.getByText("You have 2 credits; this needs 4.")).toBeVisible();

  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /^Nano Banana\s*1 credit/ })
    .check();
  await expect(generate).toBeEnabled();
  await expect(page.getByText(/You have \d+ credits?; this needs/)).toHaveCount(0);
  await generate.click();
  await decodedResult(page, "a lighthouse, in detail");
  expect(await balanceOf(page)).toBe(1);
  await page.context().close();
});

test("the server's warning about the result is shown under it, in words", async ({ browser }) => {
  const page = await laptop(browser, "warned");
  // The simulator draws a square whatever was asked, as the real model sometimes does.
  const prompt = "a wide mountain panorama [sim:ratio=1:1]";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "16:9" }).check();
  await page.getByRole("button", { name: /^Generate/ }).click();
  const size = await decodedResult(page, prompt);
  expect(size.width).toBe(size.height);
  const note = page.getByRole("figure").getByRole("listitem");
  await expect(note).toHaveText(/^The image is \d+×\d+ \(about 1:1\), not the 16:9 you asked for/);
  await page.context().close();
});

/** Makes `prompts` through the API, oldest first, and waits until each has its image. */
async function madeThroughApi(page: Page, baseURL: string, prompts: string[]): Promise<void> {
  const api = sameOrigin(page.request, baseURL);
  for (const prompt of prompts) {
    const { taskId } = await (await api.generate({ prompt, aspectRatio: "16:9" })).json();
    await expect
      .poll(async () => (await (await page.request.get(`/api/generate/${taskId}`)).json()).status)
      .toBe("succeeded");
  }
}

test("History: tiles keep the image's shape and name its settings; the dialog pages with Previous and Next", async ({
  browser,
  baseURL,
}) => {
  const page = await laptop(browser, "history-pages");
  await madeThroughApi(page, baseURL!, ["first of three", "second of three", "third of three"]);
  await page.goto("/history");
  const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
  await expect(items).toHaveCount(3);
  const tile = items.nth(0).getByRole("img", { name: "third of three" });
  await expect
    .poll(() => tile.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeTruthy();
  const box = (await tile.boundingBox())!;
  expect(box.width / box.height).toBeCloseTo(16 / 9, 1);
  await expect(items.nth(0)).toContainText("Nano Banana");
  await expect(items.nth(0)).toContainText("16:9");

  await items
    .nth(1)
    .getByRole("button", { name: /^Open:/ })
    .click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("second of three");
  await expect(dialog).toContainText("Nano Banana");
  await expect(dialog).toContainText("16:9");
  await dialog.getByRole("button", { name: "Next" }).click();
  await expect(dialog.getByRole("heading")).toHaveText("first of three");
  await expect(dialog.getByRole("img", { name: "first of three" })).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Next" })).toBeDisabled();
  await dialog.getByRole("button", { name: "Previous" }).click();
  await dialog.getByRole("button", { name: "Previous" }).click();
  await expect(dialog.getByRole("heading")).toHaveText("third of three");
  await expect(dialog.getByRole("button", { name: "Previous" })).toBeDisabled();
  await page.keyboard.press("ArrowRight");
  await expect(dialog.getByRole("heading")).toHaveText("second of three");
  await expect(dialog.getByRole("img", { name: "second of three" })).toBeVisible();
  await shot(page, "history-dialog");
  await page.context().close();
});

test("History: Delete asks first, then removes the image for good", async ({ browser, baseURL }) => {
  const page = await laptop(browser, "history-delete");
  await madeThroughApi(page, baseURL!, ["keep this one", "delete this one"]);
  await page.goto("/history");
  const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
  await expect(items).toHaveCount(2);
  await items
    .nth(0)
    .getByRole("button", { name: /^Open:/ })
    .click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("alertdialog");
  await expect(confirm).toContainText("Delete this image?");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toHaveCount(0);
  await expect(page.getByRole("dialog").getByRole("heading")).toHaveText("delete this one");

  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(items).toHaveCount(1);
  await expect(items.nth(0)).toContainText("keep this one");
  expect((await generationsOf(page)).map((job) => job.prompt)).toEqual(["keep this one"]);
  await page.reload();
  await expect(items).toHaveCount(1);
  await page.context().close();
});

test("History: Use as reference and Edit this image take the image to the studio", async ({
  browser,
  baseURL,
}) => {
  const page = await laptop(browser, "history-use");
  await madeThroughApi(page, baseURL!, ["a paper boat"]);
  await page.goto("/history");
  await page.getByRole("button", { name: /^Open:/ }).click();
  await page.getByRole("dialog").getByRole("link", { name: "Use as reference" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(references(page)).toHaveCount(1);
  await page.goto("/history");
  await page.getByRole("button", { name: /^Open:/ }).click();
  await page.getByRole("dialog").getByRole("link", { name: "Use as reference" }).click();
  await expect(references(page)).toHaveCount(2);
  await page.goto("/history");
  await page.getByRole("button", { name: /^Open:/ }).click();
  await page.getByRole("dialog").getByRole("link", { name: "Edit this image" }).click();
  await expect(references(page)).toHaveCount(1);
  await expect(page.getByRole("textbox", { name: "Prompt" })).toBeFocused();
  await page.context().close();
});

test("History: Use these settings fills the studio's form with what the job was asked: prompt, model, ratio, resolution, format and the image it edited", async ({
  browser,
  baseURL,
}) => {
  const page = await laptop(browser, "history-settings");
  const prompt = "a copper kettle on a stove";
  const api = sameOrigin(page.request, baseURL!);
  const settled = async (id: string) => (await (await page.request.get(`/api/generate/${id}`)).json()).status;
  const original = (await (await api.generate({ prompt: "a kitchen at dawn" })).json()).taskId;
  await expect.poll(() => settled(original)).toBe("succeeded");
  const answer = await api.generate({
    prompt,
    model: "nano-banana-pro",
    aspectRatio: "3:2",
    resolution: "2K",
    outputFormat: "jpeg",
    sourceTaskId: original,
  });
  const { taskId } = await answer.json();
  await expect.poll(() => settled(taskId)).toBe("succeeded");
  await page.goto("/history");
  await page.getByRole("button", { name: `Open: ${prompt}` }).click();
  await page.getByRole("dialog").getByRole("link", { name: "Use these settings" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("textbox", { name: "Prompt" })).toHaveValue(prompt);
  await expect(
    page.getByRole("radiogroup", { name: "Model" }).getByRole("radio", { name: /Nano Banana Pro/ }),
  ).toBeChecked();
  await expect(
    page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "3:2" }),
  ).toBeChecked();
  await expect(page.getByRole("radio", { name: "JPEG" })).toBeChecked();
  await expect(
    page.getByRole("radiogroup", { name: "Resolution" }).getByRole("radio", { name: /2K/ }),
  ).toBeChecked();
  await expect(page.getByRole("img", { name: "Reference: a kitchen at dawn" })).toBeVisible();
  await expect(page.getByRole("button", { name: /^Generate/ })).toHaveText("Generate · 4 credits");
  await page.context().close();
});
