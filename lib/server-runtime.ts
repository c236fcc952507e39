import { ConfigError } from "@/config";
import { getApp, shutdownApp } from "@/lib/app";
import { DatabaseLockedError } from "@/lib/db";
import { startReconciler } from "@/lib/generation/reconciler";
import { installLingeringClose } from "@/lib/http/lingeringClose";

const RECONCILE_EVERY_MS = 10_000;
/** After this, shutdown stops waiting for the rest and closes only the database. */
const SHUTDOWN_GRACE_MS = 7_000;
/** Exit at the latest this long after the first signal, database closed or not. */
const SHUTDOWN_LIMIT_MS = 9_500;

export interface ServerRuntimeOptions {
  /** Sweep interval of the in-process reconciler (tests shorten it). */
  reconcileEveryMs?: number;
}

/** Start-up and shutdown of the long-running server process (called from instrumentation.ts). */
export async function startServerRuntime(options: ServerRuntimeOptions = {}): Promise<void> {
  let reconciler: { stop: () => Promise<void> } | undefined;
  let closeDatabase: () => Promise<void> = async () => {};
  // An early 413/408 must reach a client still sending its body (lingeringClose.ts).
  installLingeringClose();
  try {
    const app = await getApp();
    closeDatabase = () => app.database.close();
    reconciler = startReconciler(
      { jobs: app.sweepJobs, images: app.sweepImages },
      {
        everyMs: options.reconcileEveryMs ?? RECONCILE_EVERY_MS,
        logger: app.logger.child({ component: "reconciler" }),
      },
    );
    // Jobs left in line by this instance before a restart (or by one that died) are sent now.
    app.generations.wakeLine();
    app.logger.info(
      { kie: app.kieMode, db: app.database.kind, auth: app.config.auth.mode, port: app.config.port },
      "Nano Banana Studio is ready",
    );
  } catch (error) {
    // A bad environment or a data folder held by another server: say so once, clearly, and stop.
    if (error instanceof ConfigError || error instanceof DatabaseLockedError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  // `npm start` sets NEXT_MANUAL_SIG_HANDLE so that this handler, not Next's, ends the process:
  // the database (and PGlite's data-folder lock) is closed before exit. The handler stays
  // installed: Ctrl-C reaches the whole process group and `npm start` forwards it too, so a second
  // signal is normal and must not kill the process mid-shutdown (the default action would).
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const code = signal === "SIGINT" ? 130 : 0;
    const exit = () => process.exit(code);
    // Bounded: whatever hangs (a KIE connection, a waiting request), the database is closed.
    setTimeout(
      () => void withLimit(closeDatabase(), SHUTDOWN_LIMIT_MS - SHUTDOWN_GRACE_MS).finally(exit),
      SHUTDOWN_GRACE_MS,
    );
    void (reconciler?.stop() ?? Promise.resolve())
      .then(shutdownApp)
      .catch((error) => console.error("shutdown:", error instanceof Error ? error.message : error))
      .finally(exit);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function withLimit(work: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([work.catch(() => {}), new Promise((resolve) => setTimeout(resolve, ms))]);
}
