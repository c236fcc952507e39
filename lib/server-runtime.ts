import { ConfigError } from "@/config";
import { getApp, shutdownApp } from "@/lib/app";
import { DatabaseLockedError } from "@/lib/db";
import { startReconciler } from "@/lib/generation/reconciler";

const RECONCILE_EVERY_MS = 10_000;

/** Start-up and shutdown of the long-running server process (called from instrumentation.ts). */
export async function startServerRuntime(): Promise<void> {
  let reconciler: { stop: () => Promise<void> } | undefined;
  try {
    const app = await getApp();
    reconciler = startReconciler(app.sweep, {
      everyMs: RECONCILE_EVERY_MS,
      logger: app.logger.child({ component: "reconciler" }),
    });
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
  // the database (and PGlite's data-folder lock) is closed before exit.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void (reconciler?.stop() ?? Promise.resolve())
      .then(shutdownApp)
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
