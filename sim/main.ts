/**
 * `npm run sim`: runs kie-sim on its own, configured by KIE_SIM_* (sim/config.ts), until SIGINT or
 * SIGTERM. Point the app at it with KIE_BASE_URL and KIE_UPLOAD_BASE_URL.
 */
import { randomBytes } from "node:crypto";
import { KieSimConfigError, type KieSimLogLevel, loadKieSimConfig } from "./config";
import { type KieSimLogger, startKieSim } from "./server";

const LEVELS: Record<KieSimLogLevel, number> = { info: 0, warn: 1, error: 2, silent: 3 };

function consoleLogger(level: KieSimLogLevel): KieSimLogger | false {
  if (level === "silent") return false;
  const line = (name: string, fields: Record<string, unknown>, message: string) =>
    JSON.stringify({ time: new Date().toISOString(), level: name, msg: message, ...fields });
  const min = LEVELS[level];
  return {
    info: (fields, message) => {
      if (min <= LEVELS.info) console.log(line("info", fields, message));
    },
    warn: (fields, message) => {
      if (min <= LEVELS.warn) console.warn(line("warn", fields, message));
    },
    error: (fields, message) => console.error(line("error", fields, message)),
  };
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadKieSimConfig>;
  try {
    config = loadKieSimConfig(process.env);
  } catch (error) {
    if (error instanceof KieSimConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const { controlApi } = config.options;
  // The control API is never open: without KIE_SIM_CONTROL_KEY, a key of this run's own is made
  // and shown to the operator who started it (and to no one else on the machine).
  const controlKey = controlApi
    ? (config.options.controlKey ?? randomBytes(24).toString("base64url"))
    : undefined;
  const sim = await startKieSim({ ...config.options, controlKey, logger: consoleLogger(config.logLevel) });
  console.log(`kie-sim listening on ${sim.url}`);
  console.log(`  use it from the app: KIE_BASE_URL=${sim.url} KIE_UPLOAD_BASE_URL=${sim.url}`);
  if (controlKey) {
    const shown = config.options.controlKey ? "<KIE_SIM_CONTROL_KEY>" : controlKey;
    console.log(`  control API: ${sim.url}/__sim/stats with Authorization: Bearer ${shown} (sim/README.md)`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`kie-sim: ${signal} received, closing`);
    sim.close().then(
      () => process.exit(0),
      (error) => {
        console.error("kie-sim: close failed", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error) => {
  console.error("kie-sim failed to start:", error instanceof Error ? error.message : error);
  process.exit(1);
});
