"use client";

import { createBrowserClient } from "@supabase/ssr";
import { LoaderCircleIcon } from "lucide-react";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import type { SupabasePublicConfig } from "@/components/header/sign-out-button";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { supabaseBrowserOptions } from "@/lib/ui/supabase";

type Mode = "sign-in" | "sign-up";
type Notice = { kind: "error" | "info"; text: string };

/** Set when the page sends a session on; stops a loop if the server keeps refusing that session. */
const LOOP_GUARD_KEY = "nb-session-handoff";

/**
 * Supabase mode: email + password, sign-up and magic link through @supabase/ssr, which keeps the
 * session in cookies the server reads (DESIGN.md §10). A returning magic link (`?code=`) and an
 * expired access token with a live refresh token both end here and continue to `next`.
 */
export function SupabaseSignInForm({ next, supabase }: { next: string; supabase: SupabasePublicConfig }) {
  const client = useMemo(
    () => createBrowserClient(supabase.url, supabase.anonKey, supabaseBrowserOptions()),
    [supabase],
  );
  const [mode, setMode] = useState<Mode>("sign-in");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [notice, setNotice] = useState<Notice>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const proceed = () => {
      const last = Number(sessionStorage.getItem(LOOP_GUARD_KEY) ?? 0);
      if (Date.now() - last < 15_000) {
        setNotice({ kind: "error", text: "This server did not accept your session. Sign in again." });
        return;
      }
      sessionStorage.setItem(LOOP_GUARD_KEY, String(Date.now()));
      window.location.assign(next);
    };
    // Refreshes an expired access token, or finishes a magic link, when the browser can.
    client.auth.getSession().then(({ data }) => {
      if (data.session) proceed();
    });
    const { data } = client.auth.onAuthStateChange((event, session) => {
      if (event === "SIGNED_IN" && session) proceed();
    });
    return () => data.subscription.unsubscribe();
  }, [client, next]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setNotice(undefined);
    sessionStorage.removeItem(LOOP_GUARD_KEY);
    const credentials = { email: email.trim(), password };
    const { data, error } =
      mode === "sign-in"
        ? await client.auth.signInWithPassword(credentials)
        : await client.auth.signUp({
            ...credentials,
            options: { emailRedirectTo: redirectUrl(next) },
          });
    setBusy(false);
    if (error) return setNotice({ kind: "error", text: error.message });
    if (mode === "sign-up" && !data.session) {
      setNotice({ kind: "info", text: `Check ${credentials.email} for a link to confirm your account.` });
    }
  }

  async function sendMagicLink() {
    if (!email.trim()) return setNotice({ kind: "error", text: "Enter your email first." });
    setBusy(true);
    setNotice(undefined);
    const { error } = await client.auth.signInWithOtp({
      email: email.trim(),
      options: { emailRedirectTo: redirectUrl(next) },
    });
    setBusy(false);
    setNotice(
      error
        ? { kind: "error", text: error.message }
        : { kind: "info", text: `We sent a sign-in link to ${email.trim()}. Open it on this device.` },
    );
  }

  return (
    <form onSubmit={submit} className="flex flex-col gap-4">
      <div className="flex flex-col gap-2">
        <Label htmlFor="email">Email</Label>
        <Input
          id="email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
      </div>
      <div className="flex flex-col gap-2">
        <Label htmlFor="password">Password</Label>
        <Input
          id="password"
          type="password"
          autoComplete={mode === "sign-in" ? "current-password" : "new-password"}
          required
          minLength={6}
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
      </div>
      {notice && (
        <p
          role={notice.kind === "error" ? "alert" : "status"}
          className={
            notice.kind === "error"
              ? "rounded-md bg-destructive-soft px-3 py-2 text-sm text-destructive"
              : "rounded-md bg-muted px-3 py-2 text-sm"
          }
        >
          {notice.text}
        </p>
      )}
      <Button type="submit" disabled={busy}>
        {busy && <LoaderCircleIcon className="animate-spin" aria-hidden />}
        {mode === "sign-in" ? "Sign in" : "Create account"}
      </Button>
      <Button type="button" variant="outline" disabled={busy} onClick={sendMagicLink}>
        Email me a magic link
      </Button>
      <p className="text-center text-sm text-muted-foreground">
        {mode === "sign-in" ? "New here? " : "Already have an account? "}
        <button
          type="button"
          className="font-medium text-foreground underline underline-offset-4"
          onClick={() => setMode(mode === "sign-in" ? "sign-up" : "sign-in")}
        >
          {mode === "sign-in" ? "Create an account" : "Sign in"}
        </button>
      </p>
    </form>
  );
}

function redirectUrl(next: string): string {
  return `${window.location.origin}/sign-in?next=${encodeURIComponent(next)}`;
}
