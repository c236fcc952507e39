import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

const CHROMIUM = "/usr/bin/chromium";

describe("npm start on embedded defaults", () => {
  let app: RunningApp;
  let browser: Browser;
  const dataDir = mkdtempSync(path.join(tmpdir(), "nb-e2e-data-"));
  let firstToken = "";

  beforeAll(async () => {
    app = await startApp(
      { KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" },
      { dataDir },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers /api/health with the simulator and a working database", async () => {
    const response = await fetch(`${app.url}/api/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBeTruthy();
    expect(await response.json()).toMatchObject({ ok: true, kie: "simulator", db: "ok" });
  });

  it("signs in with dev sign-in and shows the initial credits; refuses without a token", async () => {
    const anonymous = await fetch(`${app.url}/api/credits`);
    expect(anonymous.status).toBe(401);
    const refusal = await anonymous.json();
    expect(refusal).toMatchObject({ success: false, error: { code: "unauthorized" } });
    expect(refusal.error.requestId).toBe(anonymous.headers.get("x-request-id"));

    const signIn = await fetch(`${app.url}/api/auth/dev`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "smoke@example.com" }),
    });
    expect(signIn.status).toBe(200);
    expect(signIn.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    const { accessToken } = await signIn.json();
    firstToken = accessToken;
    const credits = await fetch(`${app.url}/api/credits`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(await credits.json()).toEqual({ success: true, balance: 10 });
  });

  it("answers an unknown API path with a JSON 404", async () => {
    const response = await fetch(`${app.url}/api/no-such-endpoint`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ success: false, error: { code: "not_found" } });
  });

  it("serves the home page to a real browser", async () => {
    const page = await browser.newPage();
    await page.goto(app.url);
    // Signed out, the studio sends you to sign-in (DESIGN.md §10).
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await expect(page.locator("h1").textContent()).resolves.toContain("Nano Banana Studio");
    // DESIGN.md §2: a visible badge while the simulator stands in for KIE.
    expect(await page.getByText("Simulator", { exact: true }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(tmpdir(), "nano-banana-home.png") });
    await page.close();
  });

  it("restarts on its own data: the session and the account survive, the grant is not repeated", async () => {
    expect(firstToken).not.toBe("");
    await app.stop();
    app = await startApp(
      { KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" },
      { dataDir },
    );
    const credits = await fetch(`${app.url}/api/credits`, {
      headers: { authorization: `Bearer ${firstToken}` },
    });
    expect(credits.status).toBe(200);
    expect(await credits.json()).toEqual({ success: true, balance: 10 });
  });
});
