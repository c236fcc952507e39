/**
 * A lock file that keeps a PGlite data folder to one process (STACK.md "PGlite"). The file holds
 * the owner's pid, host and process start time; a lock whose process is gone (crash, kill -9,
 * reboot, a reused pid) is stale and is taken over.
 *
 * Known limit: two processes that find the same stale lock at the same instant can both take it
 * over. That needs a crash followed by two simultaneous starts on one folder.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "@/lib/observability/logger";
import { DatabaseError, DatabaseLockedError, type DataDirLockOwner } from "./errors";

export const LOCK_FILE_NAME = "pglite.lock";

interface LockRecord extends DataDirLockOwner {
  /** Kernel boot id and process start (clock ticks since boot): detect reboots and reused pids. */
  bootId?: string;
  processStartTicks?: string;
  token: string;
}

export interface DataDirLock {
  readonly file: string;
  release(): Promise<void>;
}

/** Locks held by this process (file → token), shared by every copy of this module a bundler loaded. */
const registry = globalThis as typeof globalThis & { __nanoBananaDataDirLocks?: Map<string, string> };
registry.__nanoBananaDataDirLocks ??= new Map();
const heldLocks = registry.__nanoBananaDataDirLocks;

export async function acquireDataDirLock(dataDir: string, logger?: Logger): Promise<DataDirLock> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  await fs.mkdir(dir, { recursive: true });
  const record: LockRecord = {
    pid: process.pid,
    hostname: os.hostname(),
    lockedAt: new Date().toISOString(),
    bootId: readBootId(),
    processStartTicks: readProcessStartTicks(process.pid),
    token: randomUUID(),
  };

  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusively(file, `${JSON.stringify(record)}\n`)) {
      heldLocks.set(file, record.token);
      return { file, release: () => releaseLock(file, record.token) };
    }
    const owner = await readLockRecord(file);
    if (owner === "missing") continue; // released between our attempt and the read: try again
    if (owner !== "unreadable" && isOwnerAlive(file, owner)) {
      throw new DatabaseLockedError(dir, file, owner);
    }
    logger?.warn(
      { lockFile: file, stalePid: owner === "unreadable" ? undefined : owner.pid },
      "taking over a stale database lock",
    );
    await fs.rm(file, { force: true });
  }
  throw new DatabaseError(`Could not take the database lock "${file}"; another process keeps changing it.`);
}

/** Write the whole file or nothing: readers never see a half-written lock. */
async function createExclusively(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await fs.writeFile(temp, content, { mode: 0o644 });
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

async function readLockRecord(file: string): Promise<LockRecord | "missing" | "unreadable"> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    // A pid of 0 or below would make kill() signal a whole process group.
    if (
      Number.isInteger(parsed.pid) &&
      parsed.pid! > 0 &&
      typeof parsed.hostname === "string" &&
      parsed.token
    ) {
      return parsed as LockRecord;
    }
  } catch {
    // fall through: a lock we cannot read names no live owner
  }
  return "unreadable";
}

function isOwnerAlive(file: string, owner: LockRecord): boolean {
  // A process on another host cannot be checked from here: assume it is alive.
  if (owner.hostname !== os.hostname()) return true;
  if (owner.pid === process.pid) {
    // Same pid but not taken by this process: a previous run that reused our pid (containers).
    return heldLocks.get(file) === owner.token;
  }
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: the process exists but belongs to someone else.
  }
  const bootId = readBootId();
  if (owner.bootId && bootId && owner.bootId !== bootId) return false;
  if (owner.processStartTicks) {
    const startTicks = readProcessStartTicks(owner.pid);
    if (startTicks && startTicks !== owner.processStartTicks) return false; // pid reused
  }
  return true;
}

async function releaseLock(file: string, token: string): Promise<void> {
  if (heldLocks.get(file) !== token) return;
  heldLocks.delete(file);
  const current = await readLockRecord(file);
  if (typeof current === "object" && current.token === token) await fs.rm(file, { force: true });
}

function readBootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined; // not Linux
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses. */
function readProcessStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .at(19);
  } catch {
    return undefined;
  }
}
