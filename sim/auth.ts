/** KIE's Bearer auth: any non-empty key, or only the configured `apiKeys` (compared in constant time). */
import { timingSafeEqual } from "node:crypto";
import type { Reply, RequestContext } from "./http";

const bearerKey = (ctx: RequestContext) =>
  /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? "")?.[1];

/** The 401 answer for a request without an accepted key; undefined when the key is good. */
export function authenticate(ctx: RequestContext): Reply | undefined {
  const { sim } = ctx;
  const key = bearerKey(ctx);
  if (key === undefined) return refuse(ctx, "Authorization header with a Bearer API key is required");
  const token = Buffer.from(key);
  const keys = sim.settings.apiKeys;
  if (!keys || keys.some((k) => k.length === token.length && timingSafeEqual(k, token))) return undefined;
  return refuse(ctx, "Invalid API key");
}

/** The account a request counts against (KIE's limits are per API key); call after authenticate(). */
export function accountOf(ctx: RequestContext): string {
  return bearerKey(ctx) ?? "";
}

function refuse(ctx: RequestContext, message: string): Reply {
  ctx.sim.stats.authFailures += 1;
  return ctx.reply.httpError(401, message);
}
