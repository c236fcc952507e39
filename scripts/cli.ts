/**
 * What the operator commands (`npm run credits`, `npm run images`) share: the error that carries
 * an exit code, and the main loop that turns a command's outcome into output and an exit code.
 */
import { ConfigError } from "@/config";

/** A problem the operator must fix; `exitCode` 2 for usage, 1 otherwise. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** Parses, runs and prints; returns the exit code (0, 1 for a failure, 2 for wrong usage). */
export async function runCli<Command extends { name: string }>(
  args: string[],
  cli: {
    name: string;
    usage: string;
    parse: (args: string[]) => Command;
    run: (command: Exclude<Command, { name: "help" }>) => Promise<string>;
  },
): Promise<number> {
  try {
    const command = cli.parse(args);
    if (command.name === "help") {
      process.stdout.write(`${cli.usage}\n`);
      return 0;
    }
    process.stdout.write(`${await cli.run(command as Exclude<Command, { name: "help" }>)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n${error.exitCode === 2 ? `${cli.usage}\n` : ""}`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    process.stderr.write(`${cli.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
