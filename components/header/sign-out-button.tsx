"use client";

import { LogOutIcon } from "lucide-react";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { clearDraft } from "@/lib/ui/draft";
import { supabaseBrowserOptions } from "@/lib/ui/supabase";

export interface SupabasePublicConfig {
  url: string;
  anonKey: string;
}

/** Ends the session: our cookie on the server, and Supabase's browser session when there is one. */
export function SignOutButton({ supabase }: { supabase?: SupabasePublicConfig }) {
  const [busy, setBusy] = useState(false);
  async function signOut() {
    setBusy(true);
    try {
      // This browser may be shared: the next person must not find this one's draft or references.
      await clearDraft();
      // First, while the session cookie is still sent: the server ends that session for good
      // (a copy of its token gets 401), Supabase's included.
      // A network error must not keep the browser's Supabase session alive: it is ended regardless.
      await fetch("/api/auth/signout", { method: "POST", credentials: "same-origin" }).catch(() => {});
      if (supabase) {
        // Loaded on demand: the Supabase client is not part of the studio's first load.
        const { createBrowserClient } = await import("@supabase/ssr");
        await createBrowserClient(supabase.url, supabase.anonKey, supabaseBrowserOptions()).auth.signOut();
      }
    } finally {
      window.location.assign("/sign-in");
    }
  }
  return (
    <Button variant="ghost" size="sm" onClick={signOut} disabled={busy} className="h-9 max-sm:px-2">
      <LogOutIcon aria-hidden />
      <span className="max-sm:sr-only">Sign out</span>
    </Button>
  );
}
