/**
 * Operator CLI for credits (DESIGN.md §4):
 *
 *   npm run credits -- balance <userId|email>
 *   npm run credits -- grant <userId|email> <amount> [--reference <text>]
 *   npm run credits -- audit
 *
 * Uses the app's configuration (DATABASE_URL, or the embedded database in DATA_DIR). The embedded
 * database allows one process per folder, so with it this refuses to run while the server does.
 * `--reference` makes a grant idempotent: repeating the command with the same reference adds
 * nothing. Exit codes: 0 done, 1 failed (unknown user, database in use or unreachable, bad
 * configuration, or `audit` found the ledger unbalanced), 2 wrong usage. `audit` checks every
 * account and job (lib/credits/audit.ts) and lists each problem it finds.
 */
import pino from "pino";
import { type AppConfig, getConfig } from "@/config";
import { auditLedger, balance, describeAudit, ensureAccount, grant } from "@/lib/credits";
import { type Database, DatabaseLockedError, findUsersByIdOrEmail, openDatabase, type User } from "@/lib/db";
import { createLogger } from "@/lib/observability/logger";
import { CliError, runCli } from "./cli";

const USAGE = `Usage:
  npm run credits -- balance <userId|email>
  npm run credits -- grant <userId|email> <amount> [--reference <text>]
  npm run credits -- audit`;

const MAX_GRANT = 1_000_000;

type Command =
  | { name: "balance"; who: string }
  | { name: "grant"; who: string; amount: number; reference?: string }
  | { name: "audit" }
  | { name: "help" };

function parseArguments(args: string[]): Command {
  const positional: string[] = [];
  let reference: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") return { name: "help" };
    if (arg === "--reference" || arg.startsWith("--reference=")) {
      reference = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (!reference?.trim()) throw new CliError("--reference needs a value.", 2);
    } else if (arg.startsWith("--")) {
      throw new CliError(`Unknown option ${arg}.`, 2);
    } else {
      positional.push(arg);
    }
  }
  const [name, who, amount, ...extra] = positional;
  if (name === "help") return { name: "help" };
  if (name === "audit" && who === undefined && reference === undefined) return { name };
  if (name === "balance" && who && amount === undefined && reference === undefined) {
    return { name, who };
  }
  if (name === "grant" && who && amount !== undefined && extra.length === 0) {
    if (!/^\d+$/.test(amount) || Number(amount) < 1 || Number(amount) > MAX_GRANT) {
      throw new CliError(`The amount must be a whole number from 1 to ${MAX_GRANT} (got "${amount}").`, 2);
    }
    return { name, who, amount: Number(amount), reference: reference?.trim() };
  }
  throw new CliError(name ? `Wrong arguments for "${name}".` : "No command given.", 2);
}

async function findUser(database: Database, who: string): Promise<User> {
  const found = await findUsersByIdOrEmail(database.db, who);
  if (found.length === 0) {
    throw new CliError(
      `No user with id or email "${who}". Users are recorded on their first sign-in and request.`,
      1,
    );
  }
  if (found.length > 1) {
    const ids = found.map((u) => u.id).join(", ");
    throw new CliError(`Several users have the email "${who}" (ids: ${ids}); give the user id instead.`, 1);
  }
  return found[0]!;
}

const describeUser = (user: User) =>
  user.email ? `${user.email} (user id ${user.id})` : `user id ${user.id}`;

async function run(command: Exclude<Command, { name: "help" }>, config: AppConfig): Promise<string> {
  const logger = createLogger({
    // Keep the operator's terminal for the answer; the database's info lines are noise here.
    level: config.logLevel === "info" ? "warn" : config.logLevel,
    destination: pino.destination({ fd: 2, sync: true }),
    base: { service: "credits-cli" },
  });
  let database: Database;
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  } catch (error) {
    if (error instanceof DatabaseLockedError) {
      throw new CliError(
        `${error.message}\nThe credits CLI cannot run beside the server on the embedded database: stop the ` +
          "server, run the command, then start the server again.",
        1,
      );
    }
    throw error;
  }
  try {
    if (command.name === "audit") {
      const audit = await auditLedger(database.db, { maxProblems: 200 });
      if (!audit.balanced) throw new CliError(describeAudit(audit), 1);
      return describeAudit(audit);
    }
    const user = await findUser(database, command.who);
    if (command.name === "balance") {
      const current = await balance(database.db, user.id);
      return current === null
        ? `${describeUser(user)} has no credit account yet; it is created with ${config.credits.initial} ` +
            "credits (CREDITS_INITIAL) on their first request."
        : `${describeUser(user)} has ${current} credits.`;
    }
    // A user recorded without an account gets it (and the initial grant) as a request would.
    await ensureAccount(database.db, user.id, { initialCredits: config.credits.initial });
    const result = await grant(database.db, {
      userId: user.id,
      amount: command.amount,
      reference: command.reference === undefined ? undefined : `operator:${command.reference}`,
    });
    return result.applied
      ? `Granted ${command.amount} credits to ${describeUser(user)}. Balance: ${result.balance}.`
      : `Nothing granted: reference "${command.reference}" was already used for ${describeUser(user)}. ` +
          `Balance: ${result.balance}.`;
  } finally {
    await database.close();
  }
}

process.exitCode = await runCli<Command>(process.argv.slice(2), {
  name: "credits",
  usage: USAGE,
  parse: parseArguments,
  run: (command) => run(command, getConfig()),
});
