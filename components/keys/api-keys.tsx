"use client";

import { CheckIcon, CopyIcon, KeyRoundIcon } from "lucide-react";
import { AlertDialog } from "radix-ui";
import { type FormEvent, useState } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { ApiProblem, createApiKey, revokeApiKey } from "@/lib/ui/api";
import { problemMessage } from "@/lib/ui/errors";
import type { ApiKey, CreatedApiKey } from "@/lib/ui/types";

/** The same text on the server and in every browser (no time zone, no locale): no hydration mismatch. */
function when(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "Never";
}

function messageOf(error: unknown): string {
  return problemMessage(error instanceof ApiProblem ? error : { code: "internal_error" });
}

/** Create (the key shown once, with "Copy"), list and revoke personal API keys (DESIGN.md §10). */
export function ApiKeys({ initial, mcpUrl }: { initial: ApiKey[]; mcpUrl: string }) {
  const [keys, setKeys] = useState(initial);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [alert, setAlert] = useState<string>();
  const [created, setCreated] = useState<CreatedApiKey>();
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey>();

  async function create(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setAlert(undefined);
    try {
      const answer = await createApiKey(name);
      setCreated(answer);
      setCopied(false);
      setKeys((list) => [...list, answer.key]);
      setName("");
    } catch (error) {
      setAlert(messageOf(error));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied(true);
      toast.success("Key copied");
    } catch {
      toast.error("Copying is not allowed here: select the key and copy it.");
    }
  }

  async function revoke(key: ApiKey) {
    setBusy(true);
    setAlert(undefined);
    try {
      await revokeApiKey(key.id);
      setKeys((list) => list.filter((k) => k.id !== key.id));
      if (created?.key.id === key.id) setCreated(undefined);
      toast.success("Key revoked");
    } catch (error) {
      setAlert(messageOf(error));
    } finally {
      setBusy(false);
      setRevoking(undefined);
    }
  }

  return (
    <div className="flex max-w-3xl flex-col gap-6">
      <form
        onSubmit={create}
        className="flex flex-col gap-2 rounded-xl border bg-card p-4 sm:flex-row sm:items-end"
      >
        <div className="flex flex-1 flex-col gap-1.5">
          <Label htmlFor="key-name">Name</Label>
          <Input
            id="key-name"
            value={name}
            maxLength={64}
            required
            placeholder="e.g. nightly batch, Claude Desktop"
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <Button type="submit" disabled={busy || name.trim() === ""}>
          <KeyRoundIcon className="size-4" aria-hidden />
          Create key
        </Button>
      </form>

      {alert && (
        <p role="alert" className="text-sm text-destructive">
          {alert}
        </p>
      )}

      {created && (
        <section
          aria-labelledby="new-key"
          className="flex flex-col gap-2 rounded-xl border border-primary/40 p-4"
        >
          <h2 id="new-key" className="font-semibold">
            Your new key: {created.key.name}
          </h2>
          <p className="text-sm text-muted-foreground">Copy it now: it is shown only once.</p>
          <p className="text-sm text-muted-foreground">
            Send it as <code className="rounded bg-muted px-1">Authorization: Bearer …</code>. For an AI
            assistant, add the MCP server <code className="rounded bg-muted px-1 break-all">{mcpUrl}</code>{" "}
            with this key.
          </p>
          <div className="flex gap-2">
            <Input
              aria-label="New API key"
              readOnly
              value={created.secret}
              className="font-mono text-xs"
              onFocus={(event) => event.currentTarget.select()}
            />
            <Button type="button" variant="outline" onClick={copy}>
              {copied ? (
                <CheckIcon className="size-4" aria-hidden />
              ) : (
                <CopyIcon className="size-4" aria-hidden />
              )}
              {copied ? "Copied" : "Copy"}
            </Button>
          </div>
        </section>
      )}

      <section aria-labelledby="your-keys" className="flex flex-col gap-2">
        <h2 id="your-keys" className="font-semibold">
          Your keys
        </h2>
        {keys.length === 0 ? (
          <p className="text-sm text-muted-foreground">No keys yet.</p>
        ) : (
          <ul className="divide-y rounded-xl border">
            {keys.map((key) => (
              <li key={key.id} className="flex flex-wrap items-center gap-x-4 gap-y-1 p-3">
                <div className="flex min-w-0 flex-1 flex-col">
                  <span className="truncate font-medium">{key.name}</span>
                  <span className="font-mono text-xs text-muted-foreground">{key.prefix}…</span>
                </div>
                <dl className="grid grid-cols-[auto_auto] gap-x-2 text-xs text-muted-foreground">
                  <dt>Created</dt>
                  <dd>{when(key.createdAt)}</dd>
                  <dt>Last used</dt>
                  <dd>{when(key.lastUsedAt)}</dd>
                </dl>
                <Button
                  type="button"
                  variant="outline"
                  size="sm"
                  aria-label={`Revoke ${key.name}`}
                  disabled={busy}
                  onClick={() => setRevoking(key)}
                >
                  Revoke
                </Button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <AlertDialog.Root
        open={revoking !== undefined}
        onOpenChange={(open) => !open && setRevoking(undefined)}
      >
        <AlertDialog.Portal>
          <AlertDialog.Overlay className="fixed inset-0 z-50 bg-black/60" />
          <AlertDialog.Content className="fixed top-1/2 left-1/2 z-50 w-[calc(100vw-2rem)] max-w-sm -translate-x-1/2 -translate-y-1/2 rounded-xl border bg-card p-5 text-card-foreground shadow-2xl">
            <AlertDialog.Title className="text-base font-semibold">Revoke this key?</AlertDialog.Title>
            <AlertDialog.Description className="mt-2 text-sm text-muted-foreground">
              “{revoking?.name}” stops working at once, everywhere it is used. This cannot be undone.
            </AlertDialog.Description>
            <div className="mt-5 flex justify-end gap-2">
              <AlertDialog.Cancel asChild>
                <Button variant="outline">Cancel</Button>
              </AlertDialog.Cancel>
              <Button
                onClick={() => revoking && void revoke(revoking)}
                disabled={busy}
                className="bg-destructive text-background hover:bg-destructive/90"
              >
                Revoke
              </Button>
            </div>
          </AlertDialog.Content>
        </AlertDialog.Portal>
      </AlertDialog.Root>
    </div>
  );
}
