import type { Metadata } from "next";
import { siteOrigin } from "@/app/_lib/origin";
import { requirePageSession } from "@/app/_lib/session";
import { SignedInShell } from "@/app/_lib/shell";
import { ApiKeys } from "@/components/keys/api-keys";
import { listKeys } from "@/lib/http/apiKeys";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API keys" };

/** The person's personal API keys: create (shown once), copy, revoke (DESIGN.md §10). */
export default async function ApiKeysPage() {
  const session = await requirePageSession("/keys");
  const { app, me } = session;
  const keys = await listKeys(app.database.db, me.user.id);
  return (
    <SignedInShell session={session}>
      <div className="mb-6 flex flex-col gap-1">
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">API keys</h1>
        <p className="max-w-prose text-sm text-muted-foreground">
          A key lets a script or an AI assistant use your account: your credits, your images. Send it as{" "}
          <code className="rounded bg-muted px-1">Authorization: Bearer nbk_…</code>. Revoke a key you no
          longer use.
        </p>
      </div>
      <ApiKeys initial={keys} mcpUrl={`${await siteOrigin(app)}/api/mcp`} />
    </SignedInShell>
  );
}
