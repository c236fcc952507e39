/**
 * PGlite writes its files through Emscripten's file system, which sets each file's mode itself
 * (0666 for the ~970 files of a new cluster) and so ignores the process umask. The ledger must
 * not be readable or writable by other local users (DESIGN.md §6), so after PGlite has written
 * its folder every group and world bit is taken off. DATA_DIR itself is 0700 (lib/dataDir.ts):
 * that alone keeps others out; this keeps the files right should the folder ever be moved.
 */
import fs from "node:fs/promises";
import path from "node:path";

export async function removeOthersAccess(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  for (const target of [dir, ...entries.map((e) => path.join(e.parentPath, e.name))]) {
    const stat = await fs.lstat(target).catch(() => undefined); // gone meanwhile: nothing to close
    if (!stat || stat.isSymbolicLink() || (stat.mode & 0o077) === 0) continue;
    await fs.chmod(target, stat.mode & 0o700);
  }
}
