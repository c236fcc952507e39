import { tmpdir } from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * Browser tests (`npm run test:browser`): Chromium from the system (no browser download) against
 * the production build on embedded defaults (PGlite in a temp DATA_DIR, dev sign-in, kie-sim).
 * BROWSER_TEST_PORT picks the port (default in issue 12's range, free on dev machines).
 */
const port = Number(process.env.BROWSER_TEST_PORT ?? 41250);
const baseURL = `http://127.0.0.1:${port}`;
/** The main server's DATA_DIR: tests read the inputs it stored (what it uploaded to KIE) there. */
export const browserDataDir = path.join(tmpdir(), `nb-browser-${port}`);
/** A second server in Supabase mode (tests/browser/supabase.spec.ts), on the next port. */
export const supabaseServer = {
  url: `http://127.0.0.1:${port + 1}`,
  // Nothing listens there: the tests answer the browser's calls to Supabase Auth themselves.
  supabaseUrl: `http://127.0.0.1:${port + 2}`,
  jwtSecret: "browser-suite-supabase-jwt-secret-0123456789",
};

export default defineConfig({
  testDir: "tests/browser",
  outputDir: "test-results/browser",
  timeout: 60_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL,
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--disable-gpu", "--disable-background-networking"],
    },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
  },
  webServer: [
    {
      command: "node node_modules/tsx/dist/cli.mjs tests/browser/serve.ts",
      url: `${baseURL}/api/health`,
      env: { PORT: String(port), BROWSER_DATA_DIR: browserDataDir },
      timeout: 300_000,
      reuseExistingServer: false,
      gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
      stdout: "ignore",
      stderr: "pipe",
    },
    {
      command: "node node_modules/tsx/dist/cli.mjs tests/browser/serve.ts",
      url: `${supabaseServer.url}/api/health`,
      env: {
        PORT: String(port + 1),
        BROWSER_SUPABASE_URL: supabaseServer.supabaseUrl,
        BROWSER_SUPABASE_JWT_SECRET: supabaseServer.jwtSecret,
      },
      timeout: 300_000,
      reuseExistingServer: false,
      gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
      stdout: "ignore",
      stderr: "pipe",
    },
  ],
});
