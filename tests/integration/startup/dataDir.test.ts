/**
 * Files at rest (DESIGN.md §6, issue 24 item 4): DATA_DIR holds the credit ledger (PGlite), the dev
 * signing secret and stored images. Another local user must not be able to read or rewrite any of
 * it: folders 0700, files 0600, and a DATA_DIR that others can already reach stops the start.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/config";
import { createApp } from "@/lib/app";
import { type RunningKieSim, startKieSim } from "@/sim/server";

let sim: RunningKieSim;
let root: string;

beforeAll(async () => {
  sim = await startKieSim({ logger: false });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "nb-datadir-"));
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const configFor = (dataDir: string) =>
  loadConfig({ DATA_DIR: dataDir, KIE_BASE_URL: sim.url, KIE_UPLOAD_BASE_URL: sim.url, LOG_LEVEL: "silent" });

/** Every entry under `dir` with the permission bits others have on it. */
function openEntries(dir: string): string[] {
  const open: string[] = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const mode = fs.lstatSync(full).mode;
    if (!entry.isSymbolicLink() && (mode & 0o077) !== 0) {
      open.push(`${path.relative(dir, full)} ${(mode & 0o777).toString(8)}`);
    }
  }
  return open;
}

describe("DATA_DIR is private to the server's user", () => {
  it("a fresh start creates the folder 0700 and the database, secret and folders inside without group or world access", async () => {
    const dataDir = path.join(root, "fresh", ".data");
    const app = await createApp(configFor(dataDir));
    try {
      expect(app.database.kind).toBe("pglite");
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      const files = fs.readdirSync(dataDir, { recursive: true });
      expect(files.length).toBeGreaterThan(100); // PGlite's own files are there
      expect(openEntries(dataDir)).toEqual([]);
    } finally {
      await app.close();
    }
  }, 180_000); // a PGlite on disk takes seconds to create, much longer on a loaded machine

  it("refuses to start on a DATA_DIR that other users can reach, with one message naming it and the fix", async () => {
    for (const mode of [0o755, 0o750, 0o707]) {
      const dataDir = path.join(root, `open-${mode.toString(8)}`);
      fs.mkdirSync(dataDir);
      fs.chmodSync(dataDir, mode);
      const error = await createApp(configFor(dataDir)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/DATA_DIR/);
      expect((error as Error).message).toContain("chmod -R go-rwx");
      // Nothing was written into the open folder.
      expect(fs.readdirSync(dataDir)).toEqual([]);
    }
  });
});
