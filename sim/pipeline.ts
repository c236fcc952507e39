/**
 * One request through kie-sim, stripe-mock style: parse → control API or route lookup (404/405) →
 * count → faults (header, then global rules) → latency → outcome, or auth + handler → write.
 */
import { authenticate } from "./auth";
import { handleControl } from "./control";
import { parseFaultHeader } from "./faultSyntax";
import { type FaultSpec, KieSimFaultSyntaxError, resolveFaults } from "./faults";
import {
  type Exchange,
  KIE_ENVELOPE,
  type Reply,
  type RequestContext,
  type Route,
  withHeaders,
} from "./http";
import { BodyTooLargeError, sleep } from "./net";
import { applyOutcome } from "./outcomes";
import { findRoute } from "./routes";
import type { SimState } from "./state";

/** The request's route, or the 404/405 answer. */
function lookup(exchange: Exchange, path: string): Route | Reply {
  const { req } = exchange;
  const found = findRoute(path);
  if (!found) return KIE_ENVELOPE.httpError(404, `Not found: ${req.method} ${path}`);
  const { route, isFile } = found;
  const method = req.method === "HEAD" && isFile ? "GET" : req.method;
  if (method === route.method) return route;
  const reply = route.envelope.httpError(405, `Method not allowed: use ${route.method} ${path}`);
  return withHeaders(reply, { allow: route.method });
}

/** The header's and the global rules' faults for this request; a malformed header answers 400. */
function faultsFor(sim: SimState, job: { exchange: Exchange; route: Route }): FaultSpec | Reply {
  const { route } = job;
  let headerSpec: FaultSpec | undefined;
  const header = job.exchange.req.headers["x-kie-sim-fault"];
  if (header !== undefined) {
    try {
      headerSpec = parseFaultHeader(Array.isArray(header) ? header.join(";") : header);
    } catch (error) {
      const message = error instanceof KieSimFaultSyntaxError ? error.message : String(error);
      return route.envelope.httpError(400, message);
    }
  }
  const { spec, fired } = resolveFaults(route.endpoint, headerSpec, sim.rules, sim.settings.random);
  if (spec.outcome || spec.failTask) {
    sim.stats.faultsInjected += 1;
    sim.logger.info(
      { endpoint: route.endpoint, outcome: spec.outcome, after: spec.after, rules: fired.map((r) => r.text) },
      "kie-sim fault injected",
    );
  }
  return spec;
}

/** Auth (files are public), then the route's handler; a body over its cap answers 400. */
async function runEndpoint(route: Route, ctx: RequestContext): Promise<Reply> {
  if (route.endpoint !== "files") {
    const denied = authenticate(ctx);
    if (denied) {
      ctx.req.resume();
      return denied;
    }
  }
  try {
    return await route.handle(ctx);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      return ctx.reply.error(400, `request body exceeds ${error.limit} bytes`);
    }
    throw error;
  }
}

const isReply = (value: object): value is Reply => "body" in value && "status" in value;

export async function handleRequest(sim: SimState, exchange: Exchange): Promise<void> {
  const { req } = exchange;
  const url = new URL(req.url ?? "/", "http://kie-sim.local");
  if (url.pathname.startsWith("/__sim/") && sim.settings.controlApi) {
    return exchange.write(await handleControl({ req, url, sim }));
  }
  const route = lookup(exchange, url.pathname);
  if (isReply(route)) {
    req.resume();
    return exchange.write(route);
  }
  sim.stats.calls[route.endpoint] += 1;
  const spec = faultsFor(sim, { exchange, route });
  if (isReply(spec)) {
    req.resume();
    return exchange.write(spec);
  }
  await sleep(spec.latencyMs, sim.signal);

  if (spec.outcome && !spec.after) {
    if (spec.outcome.kind !== "reset") req.resume();
    return applyOutcome(exchange, { route, outcome: spec.outcome });
  }
  const ctx: RequestContext = {
    req,
    url,
    sim,
    reply: route.envelope,
    bytesPerSecond: spec.bytesPerSecond,
    failTask: spec.failTask,
  };
  const reply = await runEndpoint(route, ctx);
  if (spec.outcome) return applyOutcome(exchange, { route, outcome: spec.outcome, reply });
  return exchange.write(reply, spec.bytesPerSecond);
}
