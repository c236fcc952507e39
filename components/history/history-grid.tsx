"use client";

import { ImageIcon, LoaderCircleIcon } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { useSetBalance } from "@/components/header/credits";
import { type Run, useRuns } from "@/components/studio/use-runs";
import { Button, buttonVariants } from "@/components/ui/button";
import { fetchGenerations } from "@/lib/ui/api";
import { problemMessage } from "@/lib/ui/errors";
import type { Job } from "@/lib/ui/types";
import { HistoryItem } from "./history-item";

interface Props {
  initial: Job[];
  initialCursor: string | null;
  origin: string;
  aspectRatios: readonly string[];
}

const toRun = (job: Job): Run => ({
  taskId: job.taskId,
  job,
  startedAt: Date.parse(job.createdAt ?? "") || 0,
});

/** The history grid: running jobs update in place, "Load more" pages with the cursor. */
export function HistoryGrid({ initial, initialCursor, origin, aspectRatios }: Props) {
  const setBalance = useSetBalance();
  const [cursor, setCursor] = useState(initialCursor);
  const [loading, setLoading] = useState(false);
  const [alert, setAlert] = useState<string>();
  const { runs, append } = useRuns(initial.map(toRun), {
    onSettled: (run) => setBalance(run.job.remainingCredits),
    onProblem: () => undefined,
  });

  async function loadMore() {
    if (!cursor || loading) return;
    setLoading(true);
    setAlert(undefined);
    try {
      const page = await fetchGenerations(cursor);
      append(page.generations.map(toRun));
      setCursor(page.nextCursor);
    } catch (error) {
      setAlert(problemMessage(error as { code: string }));
    } finally {
      setLoading(false);
    }
  }

  if (runs.length === 0) {
    return (
      <div className="flex flex-col items-center gap-3 rounded-xl border border-dashed px-6 py-16 text-center">
        <ImageIcon className="size-8 text-muted-foreground" aria-hidden />
        <p className="font-medium">No images yet</p>
        <p className="text-sm text-muted-foreground">What you generate appears here, and stays.</p>
        <Link href="/" className={buttonVariants({ size: "sm" })}>
          Open the studio
        </Link>
      </div>
    );
  }

  return (
    <div className="flex flex-col gap-6">
      <ul
        className="grid grid-cols-1 gap-4 min-[480px]:grid-cols-2 md:grid-cols-3 xl:grid-cols-4"
        aria-label="Your images"
      >
        {runs.map((run) => (
          <HistoryItem key={run.taskId} job={run.job} origin={origin} aspectRatios={aspectRatios} />
        ))}
      </ul>
      {alert && (
        <p role="alert" className="rounded-md bg-destructive-soft px-3 py-2 text-sm text-destructive">
          {alert}
        </p>
      )}
      {cursor && (
        <div className="flex justify-center">
          <Button variant="outline" onClick={loadMore} disabled={loading}>
            {loading && <LoaderCircleIcon className="animate-spin" aria-hidden />}
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}
