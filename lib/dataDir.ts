/**
 * Files at rest (DESIGN.md §6, §8): DATA_DIR holds the embedded database (the credit ledger), the
 * dev signing secret, stored images and upload spools. Any local user who can reach it can rewrite
 * the ledger or sign in as anyone, so it is private to the server's user: created 0700, and
 * everything the process creates from start-up on is 0700/0600 (PGlite asks for 0666 files and
 * 0755 folders; only the umask narrows them). A folder that others can already reach stops the
 * start, with one message saying how to fix it: tightening it silently would hide that it was open.
 */
import fs from "node:fs";
import { isMainThread } from "node:worker_threads";
import { ConfigError } from "@/config";

/** Group and world bits: none may be set on DATA_DIR. */
const OTHERS = 0o077;

export function preparePrivateDataDir(dataDir: string): void {
  // Worker threads may not change the umask (a test pool); the server process always can.
  if (isMainThread) process.umask(OTHERS);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(dataDir);
  const problem =
    (stat.mode & OTHERS) !== 0
      ? `"${dataDir}" is open to other users (mode ${(stat.mode & 0o777).toString(8)}); ` +
        `make it private with \`chmod -R go-rwx "${dataDir}"\``
      : typeof process.getuid === "function" && stat.uid !== process.getuid()
        ? `"${dataDir}" belongs to another user; use a folder of the server's own user`
        : undefined;
  if (problem) throw new ConfigError([{ variable: "DATA_DIR", problem }]);
}
