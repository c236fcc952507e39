/**
 * kill -9 during a copy (DESIGN.md §9): a server dies while it streams a result into the store.
 * After the restart the job settles once (one capture), and the sweep leaves no orphan file: the
 * store holds exactly the result and its thumbnail, no temp or spool file remains.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { loadConfig } from "@/config";
import { type App, createApp } from "@/lib/app";
import { devUserId } from "@/lib/auth/dev";
import { type RunningKieSim, startKieSim } from "@/sim/server";
import { eventually } from "../../helpers/probes";
import { jobRow, ledgerOf } from "../jobs/jobKit";

const FIXTURE = path.resolve("tests/helpers/copy-then-wait.ts");

let sim: RunningKieSim | undefined;
let child: ChildProcess | undefined;
let app: App | undefined;
const dataDir = mkdtempSync(path.join(tmpdir(), "nb-kill-"));

afterAll(async () => {
  child?.kill("SIGKILL");
  await app?.close();
  await sim?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function partFiles(dir: string): { name: string; size: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".part"))
    .map((name) => ({ name, size: statSync(path.join(dir, name)).size }));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

it("after a kill -9 mid-copy, the restarted app settles the job once and no orphan file remains", async () => {
  // KIE's file is served at 200 kB/s: a 3 MB result takes ~15 s to copy.
  sim = await startKieSim({ stepMs: 40, recordDelayMs: 20, imageScale: 0.125, logger: false });
  sim.setFaults("files:slow=200000");
  const userId = devUserId("killed@example.com");
  child = spawn(
    process.execPath,
    ["--import", "tsx", FIXTURE, dataDir, sim.url, userId, "[sim:result=oversize=3000000] a banana"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk.toString();
  });
  const spool = path.join(dataDir, "spool");
  // Kill it once the copy is well under way.
  await eventually(
    "the copy to start",
    () => partFiles(spool),
    (parts) => parts.some((part) => part.size > 100_000),
    { attempts: 900, intervalMs: 100 },
  );
  const taskId = /task (\S+)/.exec(output)?.[1];
  expect(taskId).toBeDefined();
  child.kill("SIGKILL");
  await new Promise((resolve) => child?.once("exit", resolve));
  expect(partFiles(spool)).toHaveLength(1); // the interrupted copy's spool file

  // Restart on the same data folder (database and store), KIE now at full speed.
  sim.setFaults([]);
  const config = loadConfig({
    DATA_DIR: dataDir,
    KIE_BASE_URL: sim.url,
    KIE_UPLOAD_BASE_URL: sim.url,
    IMAGE_URL_SECRET: "copy-then-wait-fixture-secret-0123456789",
    LOG_LEVEL: "silent",
  });
  app = await createApp(config, { simulatorOrigin: sim.url });
  const settled = await eventually(
    "the job to settle after the restart",
    async () => (await app?.generations.getForUser(userId, taskId as string))?.job,
    (job) => job?.status === "succeeded",
    { attempts: 100, intervalMs: 200 },
  );
  expect(settled?.imageStored).toBe(true);
  await app.resultImages.sweepOrphans({ graceMs: 0 });

  const row = await jobRow(app.database, taskId as string);
  expect(row.imageBytes).toBe(3_000_000);
  expect(await ledgerOf(app.database, row.id)).toEqual({ reserve: 1, capture: 1 });
  expect(partFiles(spool)).toEqual([]);
  expect(filesUnder(path.join(dataDir, "images")).sort()).toEqual(
    [`results/${row.id}.png`, `results/${row.id}.thumb.webp`].sort(),
  );
}, 150_000);
