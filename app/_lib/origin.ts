import { headers } from "next/headers";
import type { App } from "@/lib/app";

/** This site's origin as the browser sees it (APP_URL when set, else the request's Host). */
export async function siteOrigin(app: App): Promise<string> {
  if (app.config.appUrl) return new URL(app.config.appUrl).origin;
  const list = await headers();
  const host = list.get("x-forwarded-host") ?? list.get("host") ?? "localhost";
  const proto = list.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https" ? "https" : "http";
  return `${proto}://${host}`;
}
