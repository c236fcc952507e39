/**
 * Supabase mode in the browser: the sign-in page signs in with email + password through
 * @supabase/ssr, whose cookie session the server then accepts; sign-out ends it, on the server too
 * (a copied access token gets 401). Supabase Auth
 * itself is played by the test (its token endpoint answers a token signed with the project's
 * JWT secret), so this runs offline.
 */
import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { SignJWT } from "jose";
import { supabaseServer } from "../../playwright.config";
import { headerCredits } from "./helpers";

test.use({ baseURL: supabaseServer.url });

async function accessToken(userId: string, email: string): Promise<string> {
  return new SignJWT({
    email,
    role: "authenticated",
    aud: "authenticated",
    is_anonymous: false,
    session_id: randomUUID(),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuer(`${supabaseServer.supabaseUrl}/auth/v1`)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(supabaseServer.jwtSecret));
}

test("Supabase mode: email + password sign-in, the studio, and sign-out", async ({ page }) => {
  const userId = randomUUID();
  const email = `supa-${userId.slice(0, 8)}@example.com`;
  const token = await accessToken(userId, email);
  const passwordGrants: string[] = [];
  await page.route(`${supabaseServer.supabaseUrl}/auth/v1/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith("/token") && url.searchParams.get("grant_type") === "password") {
      passwordGrants.push(route.request().postDataJSON().email);
      const now = Math.floor(Date.now() / 1000);
      await route.fulfill({
        json: {
          access_token: token,
          token_type: "bearer",
          expires_in: 3600,
          expires_at: now + 3600,
          refresh_token: "browser-suite-refresh-token",
          user: {
            id: userId,
            aud: "authenticated",
            role: "authenticated",
            email,
            app_metadata: { provider: "email" },
            user_metadata: {},
            created_at: new Date().toISOString(),
          },
        },
      });
      return;
    }
    if (url.pathname.endsWith("/logout")) return route.fulfill({ status: 204 });
    return route.fulfill({ status: 404, json: { error: "not part of this test" } });
  });

  await page.goto("/history");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fhistory$/);
  await expect(page.getByRole("textbox", { name: "Email" })).toBeVisible();
  await expect(page.getByLabel("Password")).toBeVisible();
  await expect(page.getByRole("button", { name: "Email me a magic link" })).toBeVisible();
  await page.getByRole("textbox", { name: "Email" }).fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();

  await expect(page).toHaveURL(/\/history$/);
  expect(passwordGrants).toEqual([email]);
  await expect(headerCredits(page)).toHaveText("10 credits");
  const cookies = await page.context().cookies();
  expect(cookies.some((cookie) => /^sb-.+-auth-token/.test(cookie.name))).toBe(true);

  // A click that lands before the header's script has hydrated does nothing (CI, under load, saw
  // the page stay put): click again until it signs out.
  await expect(async () => {
    if (!/\/sign-in/.test(page.url())) {
      await page.getByRole("button", { name: "Sign out" }).click({ timeout: 2_000 });
    }
    await expect(page).toHaveURL(/\/sign-in/, { timeout: 5_000 });
  }).toPass({ timeout: 45_000 });
  // Sign-out ended the session on the server too: a copy of its access token is refused.
  const copied = await page.request.get("/api/credits", { headers: { authorization: `Bearer ${token}` } });
  expect(copied.status()).toBe(401);
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
});
