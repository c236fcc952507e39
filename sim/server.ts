/**
 * kie-sim: a standalone HTTP server that speaks KIE's API as docs/KIE.md describes it
 * (jobs, uploads, account), draws real images, sends callbacks and injects faults on demand. It
 * backs the offline demo, CI and load tests; see sim/README.md. It imports nothing from lib/ so
 * the client and the simulator can only agree through the documented wire format.
 *
 * This file only starts and stops the server: each request goes through pipeline.ts to a route in
 * routes/ (or the control API, control.ts); what the simulator holds is state.ts's.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Exchange, KIE_ENVELOPE } from "./http";
import { resolveOptions } from "./options";
import { handleRequest } from "./pipeline";
import { SimState } from "./state";
import type { KieSimOptions, RunningKieSim } from "./types";

export type { KieSimEndpoint, KieSimFaultRuleInput } from "./faults";
export { KIE_SIM_ENDPOINTS, KieSimFaultSyntaxError } from "./faults";
export { KieSimOptionsError } from "./options";
export type { KieRecordData, KieSimLogger, KieTaskState } from "./taskRecord";
export type {
  KieSimFaultRuleSnapshot,
  KieSimLimits,
  KieSimOptions,
  KieSimRateLimit,
  KieSimStats,
  KieSimTaskSnapshot,
  RunningKieSim,
} from "./types";

function createSimServer(sim: SimState): Server {
  return createServer((req, res) => {
    handleRequest(sim, new Exchange({ req, res, signal: sim.signal })).catch((error) => {
      if (sim.signal.aborted) {
        // Closing: whatever was in flight is cut off on purpose.
      } else if (req.destroyed || res.destroyed) {
        sim.logger.info({ path: req.url }, "kie-sim client went away before the answer");
      } else {
        sim.logger.error({ err: String(error), path: req.url }, "kie-sim request crashed");
      }
      if (!res.headersSent && !res.destroyed) {
        const reply = KIE_ENVELOPE.httpError(500, "kie-sim internal error");
        res.writeHead(reply.status, reply.headers).end(reply.body);
      } else {
        res.destroy();
      }
    });
  });
}

/** Listens, and returns the address the simulator answers at. */
async function listen(server: Server, sim: SimState): Promise<string> {
  const { host, port } = sim.settings;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost =
    host === "0.0.0.0" || host === "::"
      ? "127.0.0.1"
      : address.family === "IPv6"
        ? `[${address.address}]`
        : host;
  const own = `http://${urlHost}:${address.port}`;
  sim.setAddress(own, address.port);
  sim.logger.info({ url: own, publicUrl: sim.base }, "kie-sim listening");
  return own;
}

async function close(server: Server, sim: SimState): Promise<void> {
  sim.stop();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await sim.closeConnections();
}

/** Starts kie-sim and resolves once it listens. */
export async function startKieSim(options: KieSimOptions = {}): Promise<RunningKieSim> {
  const sim = new SimState(resolveOptions(options));
  const server = createSimServer(sim);
  const url = await listen(server, sim);
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= close(server, sim);
      return closing;
    },
    stats: () => sim.getStats(),
    limits: () => sim.limitSnapshot(),
    resetStats: () => sim.resetStats(),
    setFaults: (rules) => sim.setFaults(rules),
    faults: () => sim.faultSnapshot(),
    tasks: () => sim.allTasks(),
    task: (taskId) => sim.findTask(taskId),
    credits: () => sim.credits,
    setCredits: (credits) => sim.setCredits(credits),
  };
}
