/**
 * Temp and spool files (the store's `.tmp/`, the copy step's spool, the upload spools): named
 * `<host>-<pid>-<random>` so a sweep on a shared DATA_DIR (STORAGE.md) can tell whose they are.
 * A process id means something only on its own host: files of another host (or container) are
 * judged by age alone, never as "process gone" — that would cut a live copy of another instance.
 * Also the one way this app writes a buffer to a file handle: every byte, or an error.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { readdir, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";

/** `<host>-<pid>-<random>` with an optional `.part`; the host is the last part that may hold dashes. */
const TEMP_NAME = /^([A-Za-z0-9._-]+)-(\d+)-[0-9a-f]{16}(\.part)?$/;
/** Names of earlier versions (`<pid>-<random>.part`, no host): judged by age alone. */
const OLD_TEMP_NAME = /^\d+-[0-9a-f]+\.part$/;

/** This host's name as it appears in temp names (only characters the sweep's pattern accepts). */
export const HOST_TAG = hostTag(hostname());

export function hostTag(name: string): string {
  return (name.replace(/[^A-Za-z0-9.-]/g, "_") || "host").slice(0, 64);
}

/** A temp name in `dir` owned by this process (sweepTempFiles knows the shape); `.part` for files. */
export function tempFileName(dir: string, suffix = ".part"): string {
  return path.join(dir, `${HOST_TAG}-${process.pid}-${randomBytes(8).toString("hex")}${suffix}`);
}

/**
 * Removes temp files and folders in `dir` of this host's processes that are gone, and any older
 * than `olderThanMs` whatever their host (a pid can be reused; another host's pids are unknown
 * here). Names of another shape are left alone. Returns how many were removed.
 */
export async function sweepTempFiles(dir: string, olderThanMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match && !OLD_TEMP_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info) continue;
    const stale = Date.now() - info.mtimeMs > olderThanMs;
    const [, host, pid] = match ?? [];
    const deadHere = host === HOST_TAG && Number(pid) !== process.pid && !processAlive(Number(pid));
    if (stale || deadHere) {
      await rm(file, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Writes all of `chunk` at the handle's position: `write()` may write fewer bytes than asked (a
 * nearly full disk), and a short write ignored is a truncated file. Returns the bytes written.
 */
export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<number> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error("short write: no bytes written"), { code: "EIO" });
    offset += bytesWritten;
  }
  return offset;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Temp and spool files older than this are removed whatever their host (an hour: no copy lasts that long). */
export const TEMP_MAX_AGE_MS = 3_600_000;

/**
 * The spool folders under DATA_DIR: `results` holds the copy step's downloads (a file each),
 * `uploads` the multipart files of requests in flight (a folder each).
 */
export function spoolDirOf(dataDir: string, kind: "results" | "uploads"): string {
  const spool = path.join(dataDir, "spool");
  return kind === "uploads" ? path.join(spool, "uploads") : spool;
}
