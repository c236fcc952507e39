/**
 * The browser suite's server: `npm start` (it builds first when the build is stale) on embedded
 * defaults with a fresh temp DATA_DIR, removed when the suite stops it.
 *
 * One deviation from the defaults: the suite signs in many users from one IP and spends one
 * user's whole balance in a minute, so the generate rate limits are raised above its needs.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");
// BROWSER_DATA_DIR (playwright.config.ts) lets a test read what the server stored: the inputs it
// uploaded to KIE (tests/browser/photos.spec.ts).
const dataDir = process.env.BROWSER_DATA_DIR ?? mkdtempSync(path.join(tmpdir(), "nb-browser-"));
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DATA_DIR: dataDir,
  NEXT_TELEMETRY_DISABLED: "1",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  RATE_LIMIT_PER_MINUTE: "60",
  RATE_LIMIT_IP_PER_MINUTE: "600",
  // The model picker's test reads these prices; the default model keeps its 1 credit.
  MODEL_CREDITS: "nano-banana-pro=4,nano-banana-pro:4K=8",
};
for (const name of [
  "KIE_API_KEY",
  "KIE_BASE_URL",
  "KIE_UPLOAD_BASE_URL",
  "DATABASE_URL",
  "SUPABASE_URL",
  "SUPABASE_ANON_KEY",
  "SUPABASE_JWT_SECRET",
  "REDIS_URL",
  "APP_URL",
  "DEV_SIGN_IN",
]) {
  delete env[name];
}

// The Supabase-mode server of the suite (playwright.config.ts): a fake project URL the browser
// never reaches (tests answer its auth calls) and a JWT secret the tests sign tokens with.
if (process.env.BROWSER_SUPABASE_URL) {
  env.SUPABASE_URL = process.env.BROWSER_SUPABASE_URL;
  env.SUPABASE_ANON_KEY = "browser-test-anon-key";
  env.SUPABASE_JWT_SECRET = process.env.BROWSER_SUPABASE_JWT_SECRET;
}

const child = spawn(
  process.execPath,
  [path.join(root, "node_modules/tsx/dist/cli.mjs"), "scripts/start.ts"],
  {
    cwd: root,
    env,
    stdio: "inherit",
  },
);
const stop = (signal: NodeJS.Signals) => child.kill(signal);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
child.on("exit", (code) => {
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
