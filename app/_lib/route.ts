/**
 * The route wrapper every handler in app/api uses (lib/http/route.ts), wired to this process's
 * App: the composition root is imported here, in app/, never from lib/http.
 */
import { type App, getApp } from "@/lib/app";
import { type RouteContext as AppRouteContext, createRoute } from "@/lib/http/route";

export const route = createRoute(getApp);
export type RouteContext<Params> = AppRouteContext<Params, App>;
