/**
 * Issue 25 item 2 in the studio: edits as a tree. "Edit this image" sends the result by its id
 * (sourceTaskId, no upload), the result view lists the chain of versions back to the original,
 * an earlier version can be edited again (a branch: a sibling of its first edit), and "Compare"
 * shows a result against its parent with a slider the keyboard moves.
 */

import AxeBuilder from "@axe-core/playwright";
import { type Browser, expect, type Page, test } from "@playwright/test";
import { decodedResult, generationsOf, shot, signInFast, uniqueEmail } from "./helpers";

async function laptop(browser: Browser, label: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await signInFast(page, uniqueEmail(label));
  await page.goto("/");
  return page;
}

/** Generates with what the form holds and returns the body the browser sent. */
async function generate(
  page: Page,
  prompt: string,
): Promise<{ json?: Record<string, unknown>; type: string }> {
  const sent = page.waitForRequest(
    (request) => request.method() === "POST" && new URL(request.url()).pathname === "/api/generate",
  );
  await page.getByRole("button", { name: /^Generate/ }).click();
  const request = await sent;
  const type = (await request.headerValue("content-type")) ?? "";
  await decodedResult(page, prompt);
  return { type, json: type.includes("json") ? request.postDataJSON() : undefined };
}

test("edit → edit → branch from the first → compare: the chain lists the versions, the slider moves with the keyboard", async ({
  browser,
}) => {
  const page = await laptop(browser, "edit-tree");
  const prompt = page.getByRole("textbox", { name: "Prompt" });
  const versions = page.getByRole("navigation", { name: "Versions" }).getByRole("button");
  const steps = ["a red kite over a green hill", "make the kite blue", "add a small sun"];

  await prompt.fill(steps[0]!);
  await generate(page, steps[0]!);
  await expect(page.getByRole("navigation", { name: "Versions" })).toHaveCount(0);
  for (const step of steps.slice(1)) {
    const [previous] = await generationsOf(page);
    await page.getByRole("button", { name: "Edit this image" }).click();
    await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(1);
    await expect(prompt).toBeFocused();
    await page.keyboard.type(step);
    const sent = await generate(page, step);
    // The result is sent by its id: nothing is uploaded again.
    expect(sent.type).toContain("application/json");
    expect(sent.json?.sourceTaskId).toBe(previous!.taskId);
  }

  await expect(versions).toHaveCount(3);
  await expect(versions.nth(0)).toHaveAccessibleName(`Version 1 (original): ${steps[0]}`);
  await expect(versions.nth(2)).toHaveAttribute("aria-current", "true");

  await page.getByRole("button", { name: "Compare" }).click();
  const slider = page.getByRole("slider", { name: "Compare with the previous version" });
  await expect(slider).toHaveAttribute("aria-valuenow", "50");
  await expect(page.getByRole("img", { name: `Before: ${steps[1]}` })).toBeVisible();
  await slider.focus();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await expect(slider).toHaveAttribute("aria-valuenow", "40");
  await page.keyboard.press("End");
  await expect(slider).toHaveAttribute("aria-valuenow", "100");
  await page.keyboard.press("ArrowRight");
  await expect(slider).toHaveAttribute("aria-valuenow", "100");
  await page.keyboard.press("Home");
  await page.keyboard.press("ArrowRight");
  await expect(slider).toHaveAttribute("aria-valuenow", "5");
  // Dragging the divider moves it too.
  const box = (await page.getByTestId("compare").boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.up();
  await expect(slider).toHaveAttribute("aria-valuenow", /^(7[3-7])$/);
  await expect(slider).toBeFocused();
  await page.keyboard.press("Home");
  await page.keyboard.press("PageUp");
  await page.keyboard.press("PageUp");
  await page.keyboard.press("ArrowRight");
  await expect(slider).toHaveAttribute("aria-valuenow", "45");
  await shot(page, "studio-edit-compare");
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((violation) => violation.id)).toEqual([]);

  // Branch: show the original again and edit it: the new edit is a sibling of the first one.
  const [original] = (await generationsOf(page)).slice(-1);
  await versions.nth(0).click();
  await expect(page.getByRole("img", { name: steps[0], exact: true })).toBeVisible();
  await expect(versions.nth(0)).toHaveAttribute("aria-current", "true");
  await page.getByRole("button", { name: "Edit this image" }).click();
  await page.keyboard.type("paint it as a woodcut");
  const sent = await generate(page, "paint it as a woodcut");
  expect(sent.json?.sourceTaskId).toBe(original!.taskId);
  await expect(versions).toHaveCount(2);
  await expect(versions.nth(0)).toHaveAccessibleName(`Version 1 (original): ${steps[0]}`);
  await expect(versions.nth(1)).toHaveAccessibleName("Version 2: paint it as a woodcut");

  const tree = await (await page.request.get(`/api/generations/${original!.taskId}`)).json();
  expect(tree.children.map((child: { prompt: string }) => child.prompt)).toEqual([
    steps[1],
    "paint it as a woodcut",
  ]);
  await page.context().close();
});

test("the image being edited survives a reload and is still sent by its id", async ({ browser }) => {
  const page = await laptop(browser, "edit-reload");
  await page.getByRole("textbox", { name: "Prompt" }).fill("a teapot on a windowsill");
  await generate(page, "a teapot on a windowsill");
  const [first] = await generationsOf(page);
  await page.getByRole("button", { name: "Edit this image" }).click();
  await page.keyboard.type("make it porcelain");
  await page.reload();
  await expect(page.getByRole("img", { name: "Reference: a teapot on a windowsill" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Prompt" })).toHaveValue("make it porcelain");
  const sent = await generate(page, "make it porcelain");
  expect(sent.json?.sourceTaskId).toBe(first!.taskId);
  await page.getByRole("button", { name: "Stop editing this image" }).click();
  await expect(page.getByRole("img", { name: /^Reference:/ })).toHaveCount(0);
  await page.context().close();
});
