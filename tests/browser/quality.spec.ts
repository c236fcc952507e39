/**
 * Accessibility (axe-core: no serious or critical violation on any page, light and dark),
 * the 360 px layout, and first-load JS and LCP of the studio (docs/BENCHMARKS.md).
 */
import { gzipSync } from "node:zlib";
import AxeBuilder from "@axe-core/playwright";
import { type Browser, expect, type Page, test } from "@playwright/test";
import { decodedResult, shot, signInFast, uniqueEmail } from "./helpers";

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      nodes: violation.nodes.slice(0, 3).map((node) => node.target.join(" ")),
    }));
}

async function signedInPage(browser: Browser, colorScheme: "light" | "dark", width = 1280) {
  const context = await browser.newContext({ colorScheme, viewport: { width, height: 860 } });
  const page = await context.newPage();
  await signInFast(page, uniqueEmail(`a11y-${colorScheme}`));
  return { context, page };
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`axe: sign-in, studio (with a result and an error) and history — ${colorScheme}`, async ({
    browser,
  }) => {
    const anonymous = await browser.newContext({ colorScheme });
    const signIn = await anonymous.newPage();
    await signIn.goto("/sign-in");
    await expect(signIn.getByRole("button", { name: "Sign in" })).toBeVisible();
    expect(await seriousViolations(signIn), "sign-in").toEqual([]);
    await anonymous.close();

    const { context, page } = await signedInPage(browser, colorScheme);
    await page.goto("/");
    await expect(page.locator("html")).toHaveClass(colorScheme === "dark" ? /dark/ : /light/);
    expect(await seriousViolations(page), "studio idle").toEqual([]);

    const prompt = `a quiet harbour at dawn, ${colorScheme}`;
    await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
    await page.getByRole("button", { name: /^Generate/ }).click();
    await decodedResult(page, prompt);
    await page.getByRole("textbox", { name: "Prompt" }).fill("");
    await page.getByRole("button", { name: /^Generate/ }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Write a prompt first" })).toBeVisible();
    expect(await seriousViolations(page), "studio with result and error").toEqual([]);
    if (colorScheme === "dark") await shot(page, "studio-dark");

    await page.goto("/history");
    await expect(page.getByRole("img", { name: prompt })).toBeVisible();
    expect(await seriousViolations(page), "history").toEqual([]);
    await page
      .getByRole("button", { name: /^Open:/ })
      .first()
      .click();
    await expect(page.getByRole("dialog")).toBeVisible();
    expect(await seriousViolations(page), "history dialog").toEqual([]);
    await context.close();
  });
}

test("360 px wide: nothing overflows, everything is reachable, and the keyboard alone generates", async ({
  browser,
}) => {
  const { context, page } = await signedInPage(browser, "light", 360);
  await page.goto("/");
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(await overflow()).toBeLessThanOrEqual(0);
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await expect(page.getByRole("link", { name: "History" })).toBeVisible();

  // Keyboard only: focus the prompt by tabbing, type, submit with Ctrl+Enter.
  const promptBox = page.getByRole("textbox", { name: "Prompt" });
  for (let i = 0; i < 12 && !(await promptBox.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(promptBox).toBeFocused();
  await page.keyboard.type("a paper boat on a puddle");
  await page.keyboard.press("Control+Enter");
  await decodedResult(page, "a paper boat on a puddle");
  expect(await overflow()).toBeLessThanOrEqual(0);
  await shot(page, "studio-360", { fullPage: true });
  await page.goto("/history");
  expect(await overflow()).toBeLessThanOrEqual(0);
  await context.close();
});

/**
 * A bare Next 16.4 + React 19.3 App Router page with one client component, built from this
 * repository's node_modules and measured the same way by `npx tsx bench/first-load-js.ts`
 * (docs/BENCHMARKS.md). Re-measure it there when Next or React move.
 */
const BARE_NEXT_FIRST_LOAD_GZIP_KIB = Number(process.env.BARE_NEXT_FIRST_LOAD_GZIP_KIB ?? 170.7);

test("first-load JS of / stays within the bare Next page + 60 KiB gzip; LCP is recorded", async ({
  browser,
  baseURL,
}) => {
  const { context, page } = await signedInPage(browser, "light");
  const html = await (await page.request.get("/")).text();
  const scripts = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((match) => match[1]!);
  expect(scripts.length).toBeGreaterThan(0);
  let total = 0;
  for (const src of scripts) {
    const body = await (await page.request.get(new URL(src, baseURL).toString())).body();
    total += gzipSync(body, { level: 9 }).length;
  }
  const kib = total / 1024;

  await page.goto("/");
  const lcpMs = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        new PerformanceObserver((list) => {
          const entries = list.getEntries();
          resolve(entries[entries.length - 1]!.startTime);
        }).observe({ type: "largest-contentful-paint", buffered: true });
      }),
  );
  console.log(
    `first-load JS of /: ${kib.toFixed(1)} KiB gzip in ${scripts.length} scripts; LCP ${Math.round(lcpMs)} ms`,
  );
  test.info().annotations.push({ type: "first-load-js-kib", description: kib.toFixed(1) });
  test.info().annotations.push({ type: "lcp-ms", description: String(Math.round(lcpMs)) });
  expect(kib).toBeLessThanOrEqual(BARE_NEXT_FIRST_LOAD_GZIP_KIB + 60);
  await context.close();
});
