/**
 * Operator CLI for stored images (DESIGN.md §9):
 *
 *   npm run images -- prune [--days <n>]   delete the images of jobs settled more than n days ago
 *                                          (default IMAGE_RETENTION_DAYS); the jobs stay in history
 *   npm run images -- sweep                remove orphan files: of deleted or unknown jobs, copies
 *                                          a crash left unrecorded, temp and spool files of dead processes
 *
 * Uses the app's configuration (DATABASE_URL or the embedded database in DATA_DIR; IMAGE_STORE
 * and S3_*). The embedded database allows one process per folder, so with it this refuses to run
 * while the server does (the server's reconciler does the same work on its own, every 10 s).
 * Exit codes: 0 done, 1 failed, 2 wrong usage.
 */
import pino from "pino";
import { getConfig } from "@/config";
import { DatabaseLockedError, openDatabase } from "@/lib/db";
import { ResultImages } from "@/lib/generation/resultImages";
import { createLogger } from "@/lib/observability/logger";
import { createImageStore, spoolDirOf } from "@/lib/storage";
import { CliError, runCli } from "./cli";

const USAGE = `Usage:
  npm run images -- prune [--days <n>]
  npm run images -- sweep`;

type Command = { name: "prune"; days?: number } | { name: "sweep" } | { name: "help" };

function parseArguments(args: string[]): Command {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") return { name: "help" };
  if (name === "sweep" && rest.length === 0) return { name };
  if (name === "prune") {
    if (rest.length === 0) return { name };
    const value =
      rest[0] === "--days" ? rest[1] : rest[0]?.startsWith("--days=") ? rest[0].slice(7) : undefined;
    const extra = rest[0] === "--days" ? rest.slice(2) : rest.slice(1);
    if (value !== undefined && extra.length === 0 && /^\d+$/.test(value) && Number(value) >= 1) {
      return { name, days: Number(value) };
    }
    throw new CliError("--days needs a whole number of days, at least 1.", 2);
  }
  throw new CliError(`Unknown command "${name}".`, 2);
}

async function run(command: Exclude<Command, { name: "help" }>): Promise<string> {
  const config = getConfig();
  const days = command.name === "prune" ? (command.days ?? config.images.retentionDays) : undefined;
  if (command.name === "prune" && days === undefined) {
    throw new CliError("No retention set: give --days <n> or set IMAGE_RETENTION_DAYS.", 2);
  }
  const logger = createLogger({
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    destination: pino.destination({ fd: 2, sync: true }),
    base: { service: "images-cli" },
  });
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  } catch (error) {
    if (error instanceof DatabaseLockedError) {
      throw new CliError(
        `${error.message}\nThe images CLI cannot run beside the server on the embedded database: stop the ` +
          "server first (its reconciler prunes and sweeps on its own).",
        1,
      );
    }
    throw error;
  }
  const store = await createImageStore(
    config.images.store.kind === "s3" ? config.images.store : { kind: "local", dataDir: config.dataDir },
  );
  const images = new ResultImages({
    db: database.db,
    store,
    spoolDir: spoolDirOf(config.dataDir, "results"),
    uploadSpoolDir: spoolDirOf(config.dataDir, "uploads"),
    logger,
    fetchSource: () => Promise.reject(new Error("the images CLI copies nothing")),
  });
  try {
    if (command.name === "prune") {
      let total = 0;
      for (let pruned = -1; pruned !== 0; total += pruned) pruned = await images.prune(days as number);
      return `Deleted the images of ${total} job(s) settled more than ${days} day(s) ago.`;
    }
    const { orphans, temp } = await images.sweepOrphans();
    return `Removed ${orphans} orphan file(s) and ${temp} temp file(s).`;
  } finally {
    await store.close();
    await database.close();
  }
}

process.exitCode = await runCli<Command>(process.argv.slice(2), {
  name: "images",
  usage: USAGE,
  parse: parseArguments,
  run,
});
