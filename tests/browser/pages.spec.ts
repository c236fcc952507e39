/**
 * Issue 27 item 5–6: the pages that stand in when something is missing or slow, motion only for
 * those who want it, the studio without JavaScript, and the keyboard hint per platform.
 */
import { randomUUID } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { generateKeyPair, SignJWT } from "jose";
import { supabaseServer } from "../../playwright.config";
import { signInFast, uniqueEmail } from "./helpers";

test("an unknown address: a 404 page in the studio's style with a way back, axe clean", async ({ page }) => {
  await signInFast(page, uniqueEmail("notfound"));
  const response = await page.goto("/no-such-page/at-all");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
  await page.getByRole("link", { name: "Back to the studio" }).click();
  await expect(page.getByRole("textbox", { name: "Prompt" })).toBeVisible();
});

test("reduced motion: spinners and pulses stop; with motion allowed they run", async ({ browser }) => {
  for (const reducedMotion of ["reduce", "no-preference"] as const) {
    const context = await browser.newContext({ reducedMotion });
    const page = await context.newPage();
    await signInFast(page, uniqueEmail(`motion-${reducedMotion}`));
    await page.goto("/");
    // The studio's own animation classes, as its status and placeholders use them.
    const timing = await page.evaluate(() => {
      const probe = document.createElement("span");
      probe.className = "animate-spin";
      document.body.append(probe);
      const style = getComputedStyle(probe);
      return { duration: style.animationDuration, count: style.animationIterationCount };
    });
    if (reducedMotion === "reduce") expect(timing).toEqual({ duration: "1e-05s", count: "1" });
    else expect(timing).toEqual({ duration: "1s", count: "infinite" });
    await context.close();
  }
});

test("without JavaScript the studio says it needs it instead of reloading silently", async ({ page }) => {
  // Chromium with scripting off still parses <noscript> as text in Playwright: the page's HTML,
  // as a browser without JavaScript receives it, is what is checked.
  await signInFast(page, uniqueEmail("nojs"));
  const html = await (await page.request.get("/")).text();
  const notices = html.match(/<noscript>[\s\S]*?<\/noscript>/g) ?? [];
  expect(notices.length).toBe(1);
  for (const notice of notices) expect(notice).toContain("The studio needs JavaScript");
});

test("the keyboard hint says ⌘ on a Mac and Ctrl elsewhere", async ({ browser }) => {
  for (const [userAgent, key] of [
    ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)", "⌘"],
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)", "Ctrl"],
  ] as const) {
    const context = await browser.newContext({ userAgent });
    const page = await context.newPage();
    await page.addInitScript((mac) => {
      Object.defineProperty(navigator, "platform", { get: () => (mac ? "MacIntel" : "Linux x86_64") });
    }, key === "⌘");
    await signInFast(page, uniqueEmail("hint"));
    await page.goto("/");
    await expect(page.locator("#prompt-hint kbd").first()).toHaveText(key);
    await context.close();
  }
});

test("a page whose server data fails: the error page in the studio's style, Try again and a way back, axe clean", async ({
  browser,
}) => {
  // A real outage, no test switch: a Supabase project that signs with an asymmetric key (ES256),
  // while its key endpoint (JWKS) cannot be reached. Rendering the studio needs to know who is
  // signed in, so the page's server data call fails and error.tsx stands in.
  const { privateKey } = await generateKeyPair("ES256");
  const token = await new SignJWT({
    email: "outage@example.com",
    role: "authenticated",
    aud: "authenticated",
  })
    .setProtectedHeader({ alg: "ES256", kid: "rotated-key", typ: "JWT" })
    .setSubject(randomUUID())
    .setIssuer(`${supabaseServer.supabaseUrl}/auth/v1`)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
  const context = await browser.newContext({
    baseURL: supabaseServer.url,
    extraHTTPHeaders: { authorization: `Bearer ${token}` },
  });
  const page = await context.newPage();
  const response = await page.goto("/");
  expect(response?.status()).toBe(500);
  await expect(page.getByRole("heading", { name: "Something went wrong" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("Your images and credits are safe");
  await expect(page).toHaveTitle(/Something went wrong/);
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([]);
  // Still down: Try again shows the same page rather than a blank one.
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByRole("heading", { name: "Something went wrong" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Back to the studio" })).toHaveAttribute("href", "/");
  await context.close();
});
