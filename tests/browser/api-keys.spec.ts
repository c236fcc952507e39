/**
 * The "API keys" page (issue 29, DESIGN.md §10): reached from the header, a key is created and
 * shown once, "Copy" puts it on the clipboard, it works as a bearer, and "Revoke" (confirmed)
 * ends it at once. No serious axe violations.
 */
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { signInFast, uniqueEmail } from "./helpers";

test("create a key, copy it, use it, revoke it", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
  const page = await context.newPage();
  await signInFast(page, uniqueEmail("keys"));
  await page.goto("/");
  await page.getByRole("link", { name: "API keys" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "API keys" })).toBeVisible();
  await expect(page.getByText("No keys yet.")).toBeVisible();

  await page.getByRole("textbox", { name: "Name" }).fill("nightly batch");
  await page.getByRole("button", { name: "Create key" }).click();
  const shown = page.getByRole("textbox", { name: "New API key" });
  await expect(shown).toHaveValue(/^nbk_[A-Za-z0-9_-]{43}$/);
  const secret = await shown.inputValue();
  await expect(page.getByText("Copy it now: it is shown only once.")).toBeVisible();
  await expect(page.getByText(`${baseURL}/api/mcp`)).toBeVisible();
  const row = page.getByRole("listitem").filter({ hasText: "nightly batch" });
  await expect(row).toContainText(`${secret.slice(0, 12)}…`);
  await expect(row).toContainText("Never");

  await page.getByRole("button", { name: "Copy" }).click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);

  // The key works without the browser's cookie, and a reload never shows it again.
  const byKey = await fetch(`${baseURL}/api/credits`, { headers: { authorization: `Bearer ${secret}` } });
  expect(byKey.status).toBe(200);
  await page.reload();
  await expect(page.getByRole("textbox", { name: "New API key" })).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await expect(page.getByRole("listitem").filter({ hasText: "nightly batch" })).not.toContainText("Never");

  await page.getByRole("button", { name: "Revoke nightly batch" }).click();
  const dialog = page.getByRole("alertdialog", { name: "Revoke this key?" });
  await dialog.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByText("No keys yet.")).toBeVisible();
  const afterRevoke = await fetch(`${baseURL}/api/credits`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect(afterRevoke.status).toBe(401);
  await context.close();
});
