import type { ReactNode } from "react";
import { SiteHeader } from "@/components/header/site-header";
import type { PageSession } from "./session";

/** Header + main column of every signed-in page. */
export function SignedInShell({ session, children }: { session: PageSession; children: ReactNode }) {
  const { auth } = session.app.config;
  const supabase =
    auth.mode === "supabase" && auth.supabaseUrl && auth.supabaseAnonKey
      ? { url: auth.supabaseUrl, anonKey: auth.supabaseAnonKey }
      : undefined;
  return (
    <>
      <a
        href="#main"
        className="sr-only rounded-md bg-card px-3 py-2 focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus:z-50"
      >
        Skip to content
      </a>
      <SiteHeader me={session.me} supabase={supabase} />
      <main id="main" className="mx-auto w-full max-w-6xl px-3 py-6 sm:px-6 sm:py-8">
        {children}
      </main>
    </>
  );
}
