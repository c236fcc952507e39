import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { balance, ensureAccount, grant } from "@/lib/credits";
import { DatabaseLockedError, LOCK_FILE_NAME, openDatabase } from "@/lib/db";

// Each case opens PGlite folders, some in a child process: seconds each on a busy 2-core machine.
// A generous limit so a slow open is never read as a failure; nothing here is timed.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const HOLDER = path.resolve("tests/helpers/hold-database.ts");

let dataDir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "nb-pglite-"));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** A separate process that opens the folder (like a running server) and waits for SIGTERM. */
async function startHolder(userId: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, dataDir, userId], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stderr?.on("data", (chunk) => {
    output += String(chunk);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk) => {
      if (String(chunk).includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`holder exited with ${code}: ${output}`)));
  });
  return child;
}

async function writeLock(content: object): Promise<void> {
  await fs.writeFile(path.join(dataDir, LOCK_FILE_NAME), JSON.stringify(content));
}

describe("embedded database in a data folder", () => {
  it("keeps its data across a close and reopen (a server restart)", async () => {
    const first = await openDatabase({ dataDir });
    await ensureAccount(first.db, "alice", { initialCredits: 10, email: "alice@example.com" });
    await grant(first.db, { userId: "alice", amount: 5 });
    await first.close();
    await expect(fs.stat(path.join(dataDir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: "ENOENT" });

    const second = await openDatabase({ dataDir });
    try {
      expect(await balance(second.db, "alice")).toBe(15);
    } finally {
      await second.close();
    }
  });

  it("refuses a second open in the same process until the first is closed", async () => {
    const first = await openDatabase({ dataDir });
    const error = await openDatabase({ dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect((error as Error).message).toContain(dataDir);
    expect(error).toMatchObject({ owner: { pid: process.pid } });
    await first.close();
    await (await openDatabase({ dataDir })).close();
  });

  it("refuses to open a folder another live process holds, and opens it once that process stops", async () => {
    const holder = await startHolder("bob");
    const error = await openDatabase({ dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect(error).toMatchObject({ dataDir, owner: { pid: holder.pid } });
    expect((error as Error).message).toMatch(/in use by another process/);

    holder.kill("SIGTERM");
    expect((await once(holder, "exit"))[0]).toBe(0);
    const reopened = await openDatabase({ dataDir });
    try {
      expect(await balance(reopened.db, "bob")).toBe(7); // written by the other process
    } finally {
      await reopened.close();
    }
  });

  it("takes over the lock of a process that died without closing", async () => {
    const dead = spawn(process.execPath, ["-e", ""]);
    await once(dead, "exit");
    await writeLock({
      pid: dead.pid,
      hostname: os.hostname(),
      lockedAt: new Date().toISOString(),
      token: "t",
    });
    const database = await openDatabase({ dataDir });
    const lock = JSON.parse(await fs.readFile(path.join(dataDir, LOCK_FILE_NAME), "utf8")) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    await database.close();
  });

  it("takes over a lock carrying this process's pid from an earlier run (pid reused in a container)", async () => {
    await writeLock({ pid: process.pid, hostname: os.hostname(), lockedAt: "earlier", token: "old-run" });
    await (await openDatabase({ dataDir })).close();
  });

  it("refuses a lock held from another host, which it cannot check", async () => {
    await writeLock({ pid: 12345, hostname: "some-other-host", lockedAt: "earlier", token: "t" });
    await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(DatabaseLockedError);
  });
});
