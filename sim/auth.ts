/** KIE's Bearer auth: any non-empty key, or only the configured `apiKeys` (compared in constant time). */
import { timingSafeEqual } from "node:crypto";
import type { Reply, RequestContext } from "./http";

/** The 401 answer for a request without an accepted key; undefined when the key is good. */
export function authenticate(ctx: RequestContext): Reply | undefined {
  const { sim } = ctx;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "");
  if (!match) return refuse(ctx, "Authorization header with a Bearer API key is required");
  const token = Buffer.from(match[1]!);
  const keys = sim.settings.apiKeys;
  if (!keys || keys.some((key) => key.length === token.length && timingSafeEqual(key, token)))
    return undefined;
  return refuse(ctx, "Invalid API key");
}

function refuse(ctx: RequestContext, message: string): Reply {
  ctx.sim.stats.authFailures += 1;
  return ctx.reply.httpError(401, message);
}
