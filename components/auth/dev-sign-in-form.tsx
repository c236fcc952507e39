"use client";

import { LoaderCircleIcon } from "lucide-react";
import { type FormEvent, useState } from "react";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { callApi } from "@/lib/ui/api";
import { problemMessage } from "@/lib/ui/errors";

/** Dev mode (no Supabase configured): an email is enough (DESIGN.md §10). */
export function DevSignInForm({ next }: { next: string }) {
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await callApi("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: email.trim() }),
      });
      // A full load: the server renders the next page with the new session cookie.
      window.location.assign(next);
    } catch (problem) {
      const code = (problem as { code?: string }).code ?? "internal_error";
      setError(
        code === "invalid_request"
          ? "Enter a valid email address."
          : problemMessage({ ...(problem as object), code }),
      );
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="flex flex-col gap-4" noValidate={false}>
      <div className="flex flex-col gap-2">
        <Label htmlFor="email">Email</Label>
        <Input
          id="email"
          name="email"
          type="email"
          autoComplete="email"
          required
          placeholder="you@example.com"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
      </div>
      {error && (
        <p role="alert" className="rounded-md bg-destructive-soft px-3 py-2 text-sm text-destructive">
          {error}
        </p>
      )}
      <Button type="submit" disabled={busy}>
        {busy && <LoaderCircleIcon className="animate-spin" aria-hidden />}
        Sign in
      </Button>
    </form>
  );
}
