/**
 * DESIGN.md §6 headers through the production server: proxy.ts puts a per-request CSP nonce on
 * every page, and a real Chromium runs the page's scripts under it without a single violation.
 */
import http from "node:http";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningApp, startApp } from "../helpers/server";

describe("security headers (production server)", () => {
  let app: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    app = await startApp({ KIE_API_KEY: "", DATABASE_URL: "", SUPABASE_URL: "", SUPABASE_JWT_SECRET: "" });
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("every page carries a nonce CSP with frame-ancestors 'none', nosniff and a Referrer-Policy", async () => {
    const first = await fetch(`${app.url}/`);
    const second = await fetch(`${app.url}/`);
    expect(first.status).toBe(200);
    const csp = first.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
    // No string eval; WebAssembly compilation only (the HEIC converter, DESIGN §6).
    expect(csp).not.toMatch(/'unsafe-eval'/);
    expect(csp).toMatch(/script-src [^;]*'wasm-unsafe-eval'/);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    // Fresh per request, and on the page's own scripts.
    expect(second.headers.get("content-security-policy")).not.toContain(nonce);
    expect(await first.text()).toContain(`nonce="${nonce}"`);
    expect(first.headers.get("x-content-type-options")).toBe("nosniff");
    expect(first.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    // Plain http here: no HSTS (it would pin a host that does not serve https).
    expect(first.headers.get("strict-transport-security")).toBeNull();
  });

  it("every API answer carries nosniff, an unknown API path included", async () => {
    for (const path of ["/api/health", "/api/credits", "/api/no-such-endpoint"]) {
      const response = await fetch(`${app.url}${path}`);
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
  });

  it("paths the proxy used to miss carry the headers too, and their HTML pages the nonce CSP (issue 24)", async () => {
    const paths = [
      "/api",
      "/favicon.icoX",
      "/faviconXico",
      "/_next/image/x",
      "/_next/static/none.js",
      "/favicon.ico",
    ];
    for (const path of paths) {
      const response = await fetch(`${app.url}${path}`, { redirect: "manual" });
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("referrer-policy"), path).toBe("strict-origin-when-cross-origin");
      expect(response.headers.get("x-frame-options"), path).toBe("DENY");
      const body = await response.text();
      if (/<script/i.test(body)) {
        const csp = response.headers.get("content-security-policy") ?? "";
        expect(csp, path).toMatch(/frame-ancestors 'none'/);
        expect(csp, path).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
      }
    }
    for (const path of ["/", "/api/health", "/api/no-such-endpoint"]) {
      const response = await fetch(`${app.url}${path}`);
      // One value each, not the same header twice (next.config and the proxy/route both set them).
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("x-frame-options"), path).toBe("DENY");
    }
  });

  it("the DNS-rebinding request (Host: evil.example) gets 403, page and API alike, and no token", async () => {
    const port = Number(new URL(app.url).port);
    const ask = (path: string, method: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request({ host: "127.0.0.1", port, path, method, headers }, (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on("error", reject);
        request.end(body);
      });
    const rebound = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
    const signIn = await ask(
      "/api/auth/dev",
      "POST",
      { ...rebound, "content-type": "application/json" },
      JSON.stringify({ email: "victim@example.com" }),
    );
    expect(signIn.status).toBe(403);
    expect(signIn.body).not.toContain("accessToken");
    expect((await ask("/", "GET", { host: "evil.example" })).status).toBe(403);
    // Our own names still work.
    expect((await ask("/api/health", "GET", { host: `localhost:${port}` })).status).toBe(200);
  });

  it("a signed-in /sign-in?next= with non-ASCII redirects to the encoded path (was a 500)", async () => {
    const signIn = await fetch(`${app.url}/api/auth/dev`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: app.url },
      body: JSON.stringify({ email: "next@example.com" }),
    });
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const response = await fetch(`${app.url}/sign-in?next=/%E3%80%80/x`, {
      headers: { cookie },
      redirect: "manual",
    });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("/%E3%80%80/x");
  });

  it("a real browser runs the page's scripts under the policy with no violation", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      // The missing favicon's 404 is the UI's business, not the policy's.
      if (message.type() === "error" && !/status of 404/.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    await page.goto(app.url, { waitUntil: "networkidle" });
    // Next's client runtime sets window.next once its (nonced) bootstrap has run.
    await page.waitForFunction(() => "next" in window, undefined, { timeout: 15_000 });
    expect(problems).toEqual([]);
    await context.close();
  });
});
