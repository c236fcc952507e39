/**
 * Issue 25 item 1 in the studio: "Images" (1–4) makes that many variations from one Generate — the
 * button prices the whole batch, the credits check uses that price, and the batch arrives as a
 * grid, each image charged on its own.
 */
import { expect, test } from "@playwright/test";
import {
  balanceOf,
  decodedResult,
  generationsOf,
  headerCredits,
  pngBytes,
  shot,
  signInFast,
  uniqueEmail,
} from "./helpers";

test("Images = 4: the button says 4 credits, 4 images arrive in the grid, the balance is down by 4", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("batch"));
  await page.goto("/");
  const images = page.getByRole("radiogroup", { name: "Images" });
  const generate = page.getByRole("button", { name: /^Generate/ });
  await expect(images.getByRole("radio")).toHaveCount(4);
  await expect(images.getByRole("radio", { name: "1" })).toBeChecked();
  await expect(generate).toHaveText("Generate · 1 credit");
  await images.getByRole("radio", { name: "4" }).check();
  await expect(generate).toHaveText("Generate · 4 credits");
  // Nano Banana Pro costs 4 (serve.ts): a batch of 4 is priced 16.
  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /Nano Banana Pro/ })
    .check();
  await expect(generate).toHaveText("Generate · 16 credits");
  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /^Nano Banana\s*1 credit/ })
    .check();
  await expect(generate).toHaveText("Generate · 4 credits");

  const before = await balanceOf(page);
  const prompt = "four lemons on a blue plate";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await generate.click();
  const grid = page.getByRole("list", { name: "Images of this request" });
  await expect(grid.getByRole("img", { name: prompt })).toHaveCount(4);
  for (const image of await grid.getByRole("img", { name: prompt }).all()) {
    await expect
      .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0))
      .toBe(true);
  }
  await expect.poll(() => balanceOf(page)).toBe(before - 4);
  await expect(headerCredits(page)).toHaveText(`${before - 4} credits`);
  // The picture: the whole grid in a taller window.
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(grid).toBeInViewport();
  await shot(page, "studio-batch");
  const jobs = (await generationsOf(page)).filter((job) => job.prompt === prompt);
  expect(jobs).toHaveLength(4);
  expect(new Set(jobs.map((job) => (job as { batchId?: string }).batchId)).size).toBe(1);

  // The choice is kept after a reload, and the credits check uses the batch's price.
  await page.reload();
  await expect(images.getByRole("radio", { name: "4" })).toBeChecked();
  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /Nano Banana Pro/ })
    .check();
  await expect(generate).toBeDisabled();
  await expect(page.getByText(`You have ${before - 4} credits; this needs 16.`)).toBeVisible();
});

test("Run again repeats the exact request: its stored one, references by their stored ids, no upload", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("again"));
  await page.goto("/");
  const prompt = "this bowl, in pencil";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page
    .getByRole("radiogroup", { name: "Model" })
    .getByRole("radio", { name: /Nano Banana 2\.1/ })
    .check();
  await page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "3:2" }).check();
  await page.getByRole("radiogroup", { name: "Resolution" }).getByRole("radio", { name: /2K/ }).check();
  await page.getByLabel("Reference images").setInputFiles({
    name: "bowl.png",
    mimeType: "image/png",
    buffer: await pngBytes(60, 40, "#a05a2c"),
  });
  await page.getByRole("button", { name: /^Generate/ }).click();
  await decodedResult(page, prompt);
  const [first] = (await generationsOf(page)) as unknown as Array<{
    taskId: string;
    request: Record<string, unknown>;
  }>;
  expect(first?.request).toMatchObject({
    prompt,
    model: "nano-banana-2-1",
    aspectRatio: "3:2",
    resolution: "2K",
  });
  expect(first?.request.referenceImageIds).toHaveLength(1);

  // Another prompt and options in the form meanwhile: Run again asks what the job was asked.
  await page.getByRole("textbox", { name: "Prompt" }).fill("something else");
  await page.getByRole("radiogroup", { name: "Aspect ratio" }).getByRole("radio", { name: "1:1" }).check();
  const sent = page.waitForRequest(
    (request) => request.url().endsWith("/api/generate") && request.method() === "POST",
  );
  await page.getByRole("button", { name: "Run again" }).click();
  const request = await sent;
  expect(request.headers()["content-type"]).toContain("application/json");
  expect(request.postDataJSON()).toEqual(first?.request);
  await expect
    .poll(async () => (await generationsOf(page)).filter((job) => job.status === "succeeded").length)
    .toBe(2);
  const [again] = (await generationsOf(page)) as unknown as Array<{
    taskId: string;
    type: string;
    request: Record<string, unknown>;
  }>;
  expect(again?.type).toBe("image_edit");
  expect({ ...again?.request, referenceImageIds: undefined }).toEqual({
    ...first?.request,
    referenceImageIds: undefined,
  });
});

test("one of 4 refused by the model: 3 images and the 4th saying why; only 3 charged", async ({ page }) => {
  await signInFast(page, uniqueEmail("batch-refused"));
  await page.goto("/");
  await page.getByRole("radiogroup", { name: "Images" }).getByRole("radio", { name: "4" }).check();
  const before = await balanceOf(page);
  const prompt = "four plums on a sill [sim:fail-once=Blocked by the safety filter]";
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  await page.getByRole("button", { name: /^Generate/ }).click();
  const grid = page.getByRole("list", { name: "Images of this request" });
  await expect(grid.getByRole("img", { name: prompt })).toHaveCount(3);
  await expect(grid.getByText(/Image \d of 4: .*Blocked by the safety filter/)).toBeVisible();
  await expect(grid.getByText(/not charged/i)).toBeVisible();
  await expect.poll(() => balanceOf(page)).toBe(before - 3);
  await expect(headerCredits(page)).toHaveText(`${before - 3} credits`);
});
