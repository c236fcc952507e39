/**
 * The studio as a person uses it (issue 12 "Must show"), in Chromium against the production build
 * on embedded defaults. One person goes through the main story in order; other cases get their
 * own fresh account so credits and history stay exact.
 */
import { type BrowserContext, expect, type Page, test } from "@playwright/test";
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

test.describe
  .serial("one person's session", () => {
    let context: BrowserContext;
    let page: Page;
    const consoleErrors: string[] = [];
    const email = uniqueEmail("story");
    const prompts = {
      text: "a banana astronaut floating above the Earth",
      failing: "a forbidden subject [sim:fail=Your prompt was blocked by the safety filter]",
      edit: "turn these into a watercolor postcard",
      slow: "a lighthouse at dusk, long exposure [sim:delay=5000]",
    };

    test.beforeAll(async ({ browser }) => {
      context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
      await context.grantPermissions(["clipboard-read", "clipboard-write"]);
      page = await context.newPage();
      // Hydration mismatches, CSP refusals and uncaught errors all surface here.
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
      });
      page.on("pageerror", (error) => consoleErrors.push(error.message));
    });
    test.afterAll(async () => {
      await context.close();
    });

    test("signed out, the studio sends you to sign-in and back after", async () => {
      const answer = await page.goto("/");
      await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
      // The pages run under the nonce CSP (DESIGN.md §6); the console check at the end sees any refusal.
      expect(answer?.headers()["content-security-policy"]).toMatch(/script-src [^;]*'nonce-/);
      await expect(page.getByText("Simulator", { exact: true })).toBeVisible();
      await shot(page, "sign-in");
      await page.getByRole("textbox", { name: "Email" }).fill(email);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page).toHaveURL(/\/$/);
      await expect(headerCredits(page)).toHaveText("10 credits");
      await expect(page.getByRole("banner").getByText("Simulator", { exact: true })).toBeVisible();
      await expect(page.getByRole("link", { name: "History" })).toBeVisible();
      await shot(page, "studio-idle");
    });

    test("text to image: the image is shown decoded at the chosen ratio, and costs 1 credit", async () => {
      await page.getByRole("textbox", { name: "Prompt" }).fill(prompts.text);
      await expect(page.getByText(`${prompts.text.length} / 5,000`)).toBeVisible();
      await page
        .getByRole("radiogroup", { name: "Aspect ratio" })
        .getByRole("radio", { name: "16:9" })
        .check();
      // Hold the first status answers a moment so the running state is seen (and photographed).
      let held = 0;
      await page.route("**/api/generate/*", async (route) => {
        if (held++ < 1) await new Promise((resolve) => setTimeout(resolve, 1500));
        await route.fallback().catch(() => undefined);
      });
      await page.getByRole("button", { name: /^Generate/ }).click();
      const status = page.getByRole("status");
      await expect(status).toContainText(/Queued|Generating…/);
      await expect(status).toContainText(/\d+ s/);
      await shot(page, "studio-running");
      await page.unrouteAll({ behavior: "ignoreErrors" });

      const size = await decodedResult(page, prompts.text);
      expect(size.width / size.height).toBeCloseTo(16 / 9, 1);
      await expect(page.getByText(/1344 × 768 · 16:9/)).toBeVisible();
      await expect(headerCredits(page)).toHaveText("9 credits");
      expect(await balanceOf(page)).toBe(9);
      await expect(status).toContainText(/Done in \d+ s/);

      const download = page.getByRole("link", { name: "Download" });
      await expect(download).toHaveAttribute("download", "a-banana-astronaut-floating-above-the-earth.png");
      await page.getByRole("button", { name: "Copy prompt" }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(prompts.text);
      await shot(page, "studio-result");
    });

    test("a prompt the model refuses: its message, and the credits are unchanged", async () => {
      await page.getByRole("textbox", { name: "Prompt" }).fill(prompts.failing);
      await page.getByRole("button", { name: /^Generate/ }).click();
      const alert = page.getByRole("alert").filter({ hasText: "safety filter" });
      await expect(alert).toContainText("Your prompt was blocked by the safety filter");
      await expect(alert).toContainText("not charged");
      await expect(headerCredits(page)).toHaveText("9 credits");
      expect(await balanceOf(page)).toBe(9);
      await shot(page, "studio-error");
    });

    test("an edit with two files, one of them dropped, gives a result", async () => {
      await page.getByRole("textbox", { name: "Prompt" }).fill(prompts.edit);
      await page.getByLabel("Reference images").setInputFiles({
        name: "green.png",
        mimeType: "image/png",
        buffer: await pngBytes(96, 64, "#2e9d5b"),
      });
      const dropped = (await pngBytes(64, 96, "#d2452f")).toString("base64");
      const transfer = await page.evaluateHandle((base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "red.png", { type: "image/png" }));
        return data;
      }, dropped);
      const zone = page.getByTestId("dropzone");
      await zone.dispatchEvent("dragenter", { dataTransfer: transfer });
      await zone.dispatchEvent("dragover", { dataTransfer: transfer });
      await zone.dispatchEvent("drop", { dataTransfer: transfer });
      await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(2);
      await expect(page.getByRole("button", { name: /^Remove/ })).toHaveCount(2);

      await page.getByRole("button", { name: /^Generate/ }).click();
      await decodedResult(page, prompts.edit);
      await expect(headerCredits(page)).toHaveText("8 credits");
      const jobs = await generationsOf(page);
      expect(jobs[0]).toMatchObject({ prompt: prompts.edit, type: "image_edit", status: "succeeded" });

      // Remove empties the form again.
      await page.getByRole("button", { name: "Remove red.png" }).click();
      await page.getByRole("button", { name: "Remove green.png" }).click();
      await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(0);

      // "Edit this image": the result becomes the reference, the prompt is ready for the change.
      await page.getByRole("button", { name: "Edit this image" }).click();
      await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
      await expect(page.getByRole("textbox", { name: "Prompt" })).toBeFocused();
      await expect(page.getByRole("textbox", { name: "Prompt" })).toHaveValue("");
      // It is sent by its id (not uploaded again), and let go of with its own button.
      await page.getByRole("button", { name: "Stop editing this image" }).click();
      await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(0);
    });

    test("a reload mid-job resumes it: the job still completes on screen", async () => {
      await page.getByRole("textbox", { name: "Prompt" }).fill(prompts.slow);
      await page.getByRole("button", { name: /^Generate/ }).click();
      await expect(page.getByRole("status")).toContainText(/Queued|Generating…/);
      await page.reload();
      await expect(page.getByRole("status")).toContainText(/Queued|Generating…/);
      await decodedResult(page, prompts.slow);
      await expect(headerCredits(page)).toHaveText("7 credits");
    });

    test("history lists every job, newest first, with status and cost; an image opens with its details", async () => {
      await page.getByRole("link", { name: "History" }).click();
      await expect(page).toHaveURL(/\/history$/);
      const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
      await expect(items).toHaveCount(4);
      await expect(items.nth(0)).toContainText(prompts.slow);
      await expect(items.nth(1)).toContainText(prompts.edit);
      await expect(items.nth(2)).toContainText(prompts.failing);
      await expect(items.nth(2)).toContainText("Failed");
      await expect(items.nth(2)).toContainText("Not charged");
      await expect(items.nth(3)).toContainText(prompts.text);
      await expect(items.nth(3)).toContainText("Cost 1 credit");
      await shot(page, "history");
      // The grid loads the 256-px thumbnails; the dialog opens the full image.
      const tile = items.nth(3).getByRole("img", { name: prompts.text });
      await expect(tile).toHaveAttribute("src", /variant=thumb/);
      await expect
        .poll(() => tile.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
        .toBeGreaterThan(0);
      expect(await tile.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeLessThanOrEqual(256);

      await items
        .nth(3)
        .getByRole("button", { name: /^Open:/ })
        .click();
      const dialog = page.getByRole("dialog");
      await expect(dialog.getByRole("img", { name: prompts.text })).toBeVisible();
      await expect(dialog.getByRole("img", { name: prompts.text })).not.toHaveAttribute(
        "src",
        /variant=thumb/,
      );
      await expect(dialog).toContainText("1344 × 768 (16:9)");
      await dialog.getByRole("link", { name: "Edit this image" }).click();
      await expect(page).toHaveURL(/\/$/);
      await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
      await expect(page.getByRole("textbox", { name: "Prompt" })).toBeFocused();
    });

    test("sign out ends the session", async () => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect(page).toHaveURL(/\/sign-in/);
      await page.goto("/history");
      await expect(page).toHaveURL(/\/sign-in\?next=%2Fhistory$/);
      expect((await page.request.get("/api/me")).status()).toBe(401);
      expect(consoleErrors).toEqual([]);
    });
  });

test("a double click on Generate makes one job", async ({ page }) => {
  await signInFast(page, uniqueEmail("double"));
  await page.goto("/");
  await page.getByRole("textbox", { name: "Prompt" }).fill("one job, however eager the click");
  await page.getByRole("button", { name: /^Generate/ }).dblclick();
  await decodedResult(page, "one job, however eager the click");
  expect(await generationsOf(page)).toHaveLength(1);
  await expect(headerCredits(page)).toHaveText("9 credits");
});

test("the model picker: prices, each model's own defaults and options, the successor first, the price on Generate", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("models"));
  await page.goto("/");
  const models = page.getByRole("radiogroup", { name: "Model" });
  const ratio = page.getByRole("radiogroup", { name: "Aspect ratio" });
  const format = page.getByRole("radiogroup", { name: "Output format" });
  const resolution = page.getByRole("radiogroup", { name: "Resolution" });
  const generate = page.getByRole("button", { name: /^Generate/ });
  // serve.ts prices Pro at 4 credits, 8 at 4K; the rest cost KIE's cost in proportion, the cheapest
  // image being CREDITS_PER_GENERATION (1): 2.1 from 1, 2 from 2, Lite 1.
  await expect(models.getByRole("radio")).toHaveCount(5);
  const labels = await models.locator("label").allInnerTexts();
  expect(labels.map((text) => text.replace(/\s+/g, " ").trim())).toEqual([
    "Nano Banana 1 credit",
    "Nano Banana Pro from 4 credits",
    "Nano Banana 2.1 from 1 credit",
    "Nano Banana 2 being retired from 2 credits",
    "Nano Banana 2 Lite 1 credit",
  ]);
  await expect(models.getByRole("radio", { name: /^Nano Banana\s*1 credit/ })).toBeChecked();
  // Nano Banana's own defaults (GET /api/models): 1:1 and PNG, not "auto".
  await expect(ratio.getByRole("radio", { name: "1:1" })).toBeChecked();
  await expect(format.getByRole("radio", { name: "PNG" })).toBeChecked();
  await expect(resolution).toHaveCount(0);
  await expect(generate).toHaveText("Generate · 1 credit");

  await models.getByRole("radio", { name: /Nano Banana Pro/ }).check();
  await expect(resolution.getByRole("radio", { name: /1K/ })).toBeChecked();
  await expect(generate).toHaveText("Generate · 4 credits");
  await resolution.getByRole("radio", { name: /4K/ }).check();
  await expect(generate).toHaveText("Generate · 8 credits");
  await expect(ratio.getByRole("radio", { name: "1:8" })).toHaveCount(0);

  // 2.1 starts on its own defaults (auto, JPEG): the earlier ones were defaults, not choices.
  await models.getByRole("radio", { name: /Nano Banana 2\.1/ }).check();
  await expect(ratio.getByRole("radio", { name: "Auto" })).toBeChecked();
  await expect(format.getByRole("radio", { name: "JPEG" })).toBeChecked();
  await ratio.getByRole("radio", { name: "1:4" }).check();
  // No model documents Google Search grounding any more: the checkbox is never shown.
  await expect(page.getByRole("checkbox", { name: "Ground in Google Search" })).toHaveCount(0);
  await models.getByRole("radio", { name: /Nano Banana 2 being retired/ }).check();
  await expect(page.getByRole("checkbox", { name: "Ground in Google Search" })).toHaveCount(0);
  await expect(ratio.getByRole("radio", { name: "1:4" })).toBeChecked();

  // Lite: no resolution, no output format; its ratio is required, 1:1 unless chosen.
  await models.getByRole("radio", { name: /Lite/ }).check();
  await expect(resolution).toHaveCount(0);
  await expect(format).toHaveCount(0);
  await expect(ratio.getByRole("radio", { name: "1:4" })).toBeChecked();
  await page.getByRole("textbox", { name: "Prompt" }).fill("a tall lighthouse, lite");
  await generate.click();
  await decodedResult(page, "a tall lighthouse, lite");
  await expect(headerCredits(page)).toHaveText("9 credits");

  await models.getByRole("radio", { name: /Nano Banana Pro/ }).check();
  await page.getByRole("textbox", { name: "Prompt" }).fill("a lighthouse in 2K");
  await resolution.getByRole("radio", { name: /2K/ }).check();
  await expect(generate).toHaveText("Generate · 4 credits");
  await generate.click();
  await decodedResult(page, "a lighthouse in 2K");
  await expect(headerCredits(page)).toHaveText("5 credits");
  const [pro, lite] = await generationsOf(page);
  expect(pro).toMatchObject({ model: "nano-banana-pro", creditsUsed: 4 });
  expect(lite).toMatchObject({ model: "nano-banana-2-lite", creditsUsed: 1, aspectRatio: "1:4" });
  expect(lite).not.toHaveProperty("outputFormat");
});

test("credits exhausted: Generate is disabled and says why, with the balance", async ({ page, baseURL }) => {
  await signInFast(page, uniqueEmail("broke"));
  const api = sameOrigin(page.request, baseURL!);
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => api.generate({ prompt: `spend ${i}` })),
  );
  expect(answers.map((answer) => answer.status())).toEqual(Array(10).fill(202));
  await page.goto("/");
  await expect(headerCredits(page)).toHaveText("0 credits");
  await page.getByRole("textbox", { name: "Prompt" }).fill("one more, please");
  const generate = page.getByRole("button", { name: /^Generate/ });
  await expect(generate).toBeDisabled();
  await expect(generate).toHaveAccessibleDescription("You have 0 credits; this needs 1.");
  await expect(headerCredits(page)).toHaveText("0 credits");
});

test("files the server would refuse are refused in the browser, naming the file", async ({ page }) => {
  await signInFast(page, uniqueEmail("files"));
  await page.goto("/");
  await page.getByLabel("Reference images").setInputFiles({
    name: "notes.png",
    mimeType: "image/png",
    buffer: Buffer.from("this is text, whatever the name says"),
  });
  await expect(page.getByRole("alert")).toContainText("“notes.png” is not a PNG, JPEG, WebP or HEIC image.");
  const six = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => ({
      name: `tile-${i}.png`,
      mimeType: "image/png",
      buffer: await pngBytes(16, 16, "#336699"),
    })),
  );
  await page.getByLabel("Reference images").setInputFiles(six);
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(5);
  await expect(page.getByRole("alert")).toContainText("up to 5 reference images; 1 file was not added");
});

test("history pages with Load more, and a running job updates in place", async ({ page, baseURL }) => {
  await signInFast(page, uniqueEmail("pages"));
  const api = sameOrigin(page.request, baseURL!);
  // 21 refused jobs (each releases its credit) and one slow one: more than a page of history.
  for (let batch = 0; batch < 3; batch++) {
    const answers = await Promise.all(
      Array.from({ length: 7 }, (_, i) => api.generate({ prompt: `refused ${batch * 7 + i} [sim:fail]` })),
    );
    expect(answers.map((answer) => answer.status())).toEqual(Array(7).fill(202));
    // Nobody follows these jobs (no callback without APP_URL): reading a job's status settles it.
    const taskIds = await Promise.all(answers.map(async (answer) => (await answer.json()).taskId as string));
    for (const taskId of taskIds) {
      await expect
        .poll(async () => (await (await page.request.get(`/api/generate/${taskId}`)).json()).status, {
          timeout: 30_000,
        })
        .toBe("failed");
    }
    expect(await balanceOf(page)).toBe(10);
  }
  const slow = "a slow comet over the sea [sim:delay=4000]";
  expect((await api.generate({ prompt: slow })).status()).toBe(202);

  await page.goto("/history");
  const items = page.getByRole("list", { name: "Your images" }).getByRole("listitem");
  await expect(items).toHaveCount(20);
  await expect(items.first()).toContainText(slow);
  await expect(items.first()).toContainText(/Queued|Generating/);
  await expect(items.first().getByRole("img", { name: slow })).toBeVisible();
  await expect(items.first()).toContainText("Done");
  await expect(headerCredits(page)).toHaveText("9 credits");

  await page.getByRole("button", { name: "Load more" }).click();
  await expect(items).toHaveCount(22);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
  await expect(items.last()).toContainText("Not charged");
});

test("Generate again after a lost answer sends the same Idempotency-Key: one job, one charge", async ({
  page,
}) => {
  await signInFast(page, uniqueEmail("lost-answer"));
  await page.goto("/");
  const prompt = "a first answer lost on the way back";
  const keys: string[] = [];
  await page.route("**/api/generate", async (route) => {
    if (route.request().method() !== "POST") return route.fallback();
    keys.push(route.request().headers()["idempotency-key"] ?? "");
    if (keys.length > 1) return route.fallback();
    // The request reaches the server (the job is made and paid for); its answer never arrives.
    await route.fetch();
    await route.abort("connectionreset");
  });
  await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
  const generate = page.getByRole("button", { name: /^Generate/ });
  await generate.click();
  await expect(page.getByRole("alert").filter({ hasText: "try again" })).toBeVisible();

  await generate.click();
  await decodedResult(page, prompt);
  expect(keys).toHaveLength(2);
  expect(keys[0]).not.toBe("");
  expect(keys[1]).toBe(keys[0]);
  expect(await generationsOf(page)).toHaveLength(1);
  await expect(headerCredits(page)).toHaveText("9 credits");
  expect(await balanceOf(page)).toBe(9);
});
