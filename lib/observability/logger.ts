import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { currentRequestId } from "./requestContext";

export type { Logger };

/** `nbk_` + 43 base64url characters (lib/auth/apiKeys.ts; not imported: the logger depends on nothing). */
const API_KEY_IN_TEXT_LOG = /nbk_[A-Za-z0-9_-]{43}/g;

/**
 * Paths pino blanks before a line is written. Secrets never reach a log (DESIGN.md §6): auth and
 * cookie headers, API keys, tokens and passwords wherever they appear in a logged object.
 */
export const REDACT_PATHS = [
  "authorization",
  "cookie",
  "apiKey",
  "token",
  "accessToken",
  "password",
  "secret",
  "*.authorization",
  "*.Authorization",
  "*.cookie",
  "*.Cookie",
  "*.apiKey",
  "*.token",
  "*.accessToken",
  "*.refreshToken",
  "*.password",
  "*.secret",
  "*.jwtSecret",
  "*.callBackUrl",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "req.headers.authorization",
  "req.headers.cookie",
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to assert on what was written. */
  destination?: pino.DestinationStream;
  base?: Record<string, unknown>;
  /**
   * Human-readable lines (pino-pretty) instead of JSON. Defaults to whether stdout is a terminal:
   * an operator running `npm start` reads logs; a log shipper reads JSON lines.
   */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      // The pid tells apart the server processes of one machine (WEB_CONCURRENCY, scripts/start.ts).
      base: options.base ?? { service: "nano-banana-studio", pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A personal API key is never written, wherever it hides (a prompt, an error, a URL).
      hooks: { streamWrite: (line) => line.replace(API_KEY_IN_TEXT_LOG, "nbk_[redacted]") },
      // Every line written while a request is served carries its id, however deep the caller.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
    },
    options.destination ?? ((options.pretty ?? process.stdout.isTTY) ? prettyStdout() : undefined),
  );
}

/** Synchronous pino-pretty on stdout: no worker thread (transports do not survive bundling). */
function prettyStdout(): pino.DestinationStream {
  return pretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
}
