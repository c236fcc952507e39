/**
 * A real small filesystem for disk-full tests: a tmpfs mounted on a temp folder (needs root, or
 * CAP_SYS_ADMIN). Where it cannot be mounted, TMPFS_UNAVAILABLE says why and the tests that need
 * it skip with a visible warning, as the Postgres variants do without TEST_DATABASE_URL.
 *
 *   describe.skipIf(skipWithoutTmpfs("disk full"))("disk full", () => { … mountTmpfs(2 << 20) … });
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface Tmpfs {
  readonly dir: string;
  /** Fills the filesystem until `leaveBytes` (rounded to pages) are free; `free()` gives the space back. */
  fill(leaveBytes?: number): { free(): void };
  /** Unmounts and removes the folder. */
  close(): void;
}

/** Mounts a tmpfs of `sizeBytes` on `dir` (a new temp folder by default). */
export function mountTmpfs(sizeBytes: number, dir = mkdtempSync(path.join(tmpdir(), "nb-tmpfs-"))): Tmpfs {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", dir], {
    stdio: "pipe",
  });
  let fillers = 0;
  return {
    dir,
    fill(leaveBytes = 0) {
      const file = path.join(dir, `filler-${fillers++}`);
      const { bavail, bsize } = statfsSync(dir);
      const size = Math.max(0, bavail * bsize - leaveBytes);
      writeFileSync(file, Buffer.alloc(size, 1));
      return { free: () => rmSync(file, { force: true }) };
    },
    close() {
      try {
        execFileSync("umount", [dir], { stdio: "pipe" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Why a tmpfs cannot be mounted here, or undefined when it can (probed once). */
export const TMPFS_UNAVAILABLE: string | undefined = probe();

function probe(): string | undefined {
  try {
    mountTmpfs(64 * 1024).close();
    return undefined;
  } catch (error) {
    return (error as Error).message.split("\n")[0] ?? "mount failed";
  }
}

/** For describe.skipIf / it.skipIf: true (with a warning naming the test) when no tmpfs can be mounted. */
export function skipWithoutTmpfs(name: string): boolean {
  if (TMPFS_UNAVAILABLE) {
    console.warn(`"${name}" skipped: needs a tmpfs (run as root): ${TMPFS_UNAVAILABLE}`);
    return true;
  }
  return false;
}
