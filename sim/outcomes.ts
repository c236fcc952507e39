/**
 * Applies a fault's outcome to the exchange (sim/README.md "X-Kie-Sim-Fault"): an error status or
 * body code, a hang, a reset socket, or a broken answer (truncated JSON, a proxy's HTML page).
 */
import { randomBytes } from "node:crypto";
import type { FaultOutcome } from "./faults";
import { type Exchange, type Reply, type Route, standardMessage, withHeaders } from "./http";

const NGINX_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/** The outcome and, with `after`, the endpoint's real reply (which `malformed` truncates). */
export interface OutcomeJob {
  route: Route;
  outcome: FaultOutcome;
  reply?: Reply;
}

function errorReply({ route, outcome }: OutcomeJob & { outcome: { kind: "http" | "body-code" } }): Reply {
  const code = outcome.kind === "http" ? outcome.status : outcome.code;
  const reply =
    outcome.kind === "http"
      ? route.envelope.httpError(code, standardMessage(code))
      : route.envelope.error(code, standardMessage(code));
  return outcome.retryAfterSeconds === undefined
    ? reply
    : withHeaders(reply, { "retry-after": String(outcome.retryAfterSeconds) });
}

/** Half of the real answer (or of a made-up createTask answer), as `application/json`. */
function truncatedJson(reply: Reply | undefined): Reply {
  const full =
    reply?.body ??
    Buffer.from(
      JSON.stringify({ code: 200, msg: "success", data: { taskId: randomBytes(16).toString("hex") } }),
    );
  return {
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: full.subarray(0, Math.max(1, Math.floor(full.length / 2))),
  };
}

export async function applyOutcome(exchange: Exchange, job: OutcomeJob): Promise<void> {
  const { outcome } = job;
  switch (outcome.kind) {
    case "http":
    case "body-code":
      return exchange.write(errorReply({ ...job, outcome }));
    case "hang":
      // Nothing is written; close() or the client ends the connection.
      return;
    case "reset":
      exchange.req.socket.destroy();
      return;
    case "malformed":
      if (outcome.variant === "html") {
        return exchange.write({
          status: 502,
          headers: { "content-type": "text/html" },
          body: Buffer.from(NGINX_502),
        });
      }
      return exchange.write(truncatedJson(job.reply));
  }
}
