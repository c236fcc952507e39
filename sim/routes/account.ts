/** `GET /api/v1/chat/credit`: the simulated account's KIE credits, a bare number. */
import { KIE_ENVELOPE, type Route } from "../http";

export const ACCOUNT_ROUTES: Record<string, Route> = {
  "/api/v1/chat/credit": {
    method: "GET",
    endpoint: "credit",
    envelope: KIE_ENVELOPE,
    handle: async (ctx) => KIE_ENVELOPE.ok(ctx.sim.credits),
  },
};
