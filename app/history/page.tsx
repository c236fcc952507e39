import type { Metadata } from "next";
import { siteOrigin } from "@/app/_lib/origin";
import { requirePageSession } from "@/app/_lib/session";
import { SignedInShell } from "@/app/_lib/shell";
import { HistoryGrid } from "@/components/history/history-grid";
import { ASPECT_RATIOS, CATALOG } from "@/lib/catalog";
import { encodeCursor } from "@/lib/http/cursor";
import type { Job } from "@/lib/ui/types";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "History" };

const PAGE_SIZE = 20;

/** A job names the model that ran it (the catalogue id, or KIE's text or edit model): its label. */
function modelLabels(): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const model of CATALOG) {
    for (const id of [model.id, model.kie.textModel, model.kie.editModel]) labels[id] = model.label;
  }
  return labels;
}

/** Every job of this person, newest first; the server renders the first page (DESIGN.md §10). */
export default async function HistoryPage() {
  const session = await requirePageSession("/history");
  const { app, me } = session;
  const page = await app.generations.list(me.user.id, { limit: PAGE_SIZE });
  return (
    <SignedInShell session={session}>
      <div className="mb-6 flex flex-col gap-1">
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">History</h1>
        <p className="text-sm text-muted-foreground">Every image you made, newest first.</p>
      </div>
      <HistoryGrid
        initial={page.jobs as Job[]}
        initialCursor={page.next ? encodeCursor(page.next) : null}
        origin={await siteOrigin(app)}
        aspectRatios={ASPECT_RATIOS}
        modelLabels={modelLabels()}
      />
    </SignedInShell>
  );
}
