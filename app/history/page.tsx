import type { Metadata } from "next";
import { Suspense } from "react";
import { asListedJobs } from "@/app/_lib/jobs";
import { siteOrigin } from "@/app/_lib/origin";
import { type PageSession, requirePageSession } from "@/app/_lib/session";
import { SignedInShell } from "@/app/_lib/shell";
import { HistoryGrid } from "@/components/history/history-grid";
import { LoadingGrid } from "@/components/pages/loading-grid";
import { ASPECT_RATIOS, CATALOG } from "@/lib/catalog";
import { encodeCursor } from "@/lib/http/cursor";

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

/**
 * Every job of this person, newest first; the server renders the first page (DESIGN.md §10). The
 * session is read before anything streams (a signed-out visit is still a 307); the list streams in
 * behind a Suspense boundary, with a loading grid until it arrives.
 */
export default async function HistoryPage() {
  const session = await requirePageSession("/history");
  return (
    <SignedInShell session={session}>
      <div className="mb-6 flex flex-col gap-1">
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">History</h1>
        <p className="text-sm text-muted-foreground">Every image you made, newest first.</p>
      </div>
      <Suspense fallback={<LoadingGrid label="Loading your images…" />}>
        <HistoryList session={session} />
      </Suspense>
    </SignedInShell>
  );
}

async function HistoryList({ session: { app, me } }: { session: PageSession }) {
  const page = await app.generations.list(me.user.id, { limit: PAGE_SIZE });
  return (
    <HistoryGrid
      initial={asListedJobs(page.jobs)}
      initialCursor={page.next ? encodeCursor(page.next) : null}
      origin={await siteOrigin(app)}
      aspectRatios={ASPECT_RATIOS}
      modelLabels={modelLabels()}
    />
  );
}
