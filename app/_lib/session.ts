/**
 * The signed-in person for a server-rendered page, read from the session cookie exactly as the API
 * reads it (the same authenticator), so a page and the API never disagree about who is signed in.
 */
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { type App, getApp } from "@/lib/app";
import { UnauthorizedError } from "@/lib/auth";
import { balance } from "@/lib/credits";
import type { Me } from "@/lib/ui/types";

export interface PageSession {
  app: App;
  me: Me;
}

/** The session, or undefined when nobody (validly) is signed in. */
export async function getPageSession(): Promise<PageSession | undefined> {
  const app = await getApp();
  let user: Awaited<ReturnType<App["auth"]["authenticate"]>>;
  try {
    user = await app.auth.authenticate({ headers: await headers() });
  } catch (error) {
    if (error instanceof UnauthorizedError) return undefined;
    throw error;
  }
  await app.accounts.ensure(user.id, user.email);
  return {
    app,
    me: {
      user: { id: user.id, email: user.email ?? null, isAdmin: user.isAdmin },
      balance: (await balance(app.database.db, user.id)) ?? 0,
      auth: app.config.auth.mode,
      kie: app.kieMode,
    },
  };
}

/** The session, or a redirect to sign-in that comes back to `path` afterwards. */
export async function requirePageSession(path: string): Promise<PageSession> {
  const session = await getPageSession();
  if (!session) redirect(`/sign-in?next=${encodeURIComponent(path)}`);
  return session;
}
