"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ImageIcon, LoaderCircleIcon } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { useSetBalance } from "@/components/header/credits";
import { RECENT_KEY } from "@/components/studio/use-feed";
import { type Run, useRuns } from "@/components/studio/use-runs";
import { Button, buttonVariants } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { ApiProblem, deleteGeneration, fetchGenerations } from "@/lib/ui/api";
import { problemMessage } from "@/lib/ui/errors";
import { displayUrl } from "@/lib/ui/images";
import type { Job } from "@/lib/ui/types";
import { ConfirmDelete } from "./confirm-delete";
import { HistoryItem } from "./history-item";
import { JobDialog } from "./job-dialog";

interface Props {
  initial: Job[];
  initialCursor: string | null;
  origin: string;
  aspectRatios: readonly string[];
  /** Model id (or KIE model) → its name in the catalogue. */
  modelLabels: Record<string, string>;
}

const toRun = (job: Job): Run => ({
  taskId: job.taskId,
  job,
  startedAt: Date.parse(job.createdAt ?? "") || 0,
});

/** The history grid: running jobs update in place, "Load more" pages with the cursor. */
export function HistoryGrid({ initial, initialCursor, origin, aspectRatios, modelLabels }: Props) {
  const queryClient = useQueryClient();
  const setBalance = useSetBalance();
  const [cursor, setCursor] = useState(initialCursor);
  const [loading, setLoading] = useState(false);
  const [alert, setAlert] = useState<string>();
  const [openId, setOpenId] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const { runs, append, remove } = useRuns(initial.map(toRun), {
    onSettled: (run) => setBalance(run.job.remainingCredits),
    onProblem: () => undefined,
  });
  // The dialog pages through the jobs that have an image, in the grid's order.
  const viewable = runs.filter((run) => run.job.imageUrl);
  const openIndex = viewable.findIndex((run) => run.taskId === openId);
  const open = openIndex >= 0 ? viewable[openIndex] : undefined;

  const deletion = useMutation({
    mutationFn: deleteGeneration,
    onSuccess: (_, taskId) => {
      setConfirming(false);
      setOpenId(undefined);
      remove(taskId);
      void queryClient.invalidateQueries({ queryKey: RECENT_KEY });
      toast.success("Image deleted");
    },
    onError: (error) => {
      setConfirming(false);
      setAlert(problemMessage(error instanceof ApiProblem ? error : { code: "internal_error" }));
    },
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

  // Closing the dialog returns focus to the tile of the image last shown (it may have paged).
  function focusTile(event: Event) {
    const tile = document.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(openId ?? "")}"] button`);
    if (!tile) return;
    event.preventDefault();
    tile.focus();
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
          <HistoryItem
            key={run.taskId}
            job={run.job}
            origin={origin}
            modelLabel={run.job.model ? modelLabels[run.job.model] : undefined}
            onOpen={() => setOpenId(run.taskId)}
          />
        ))}
      </ul>
      <Dialog open={open !== undefined} onOpenChange={(next) => !next && setOpenId(undefined)}>
        {open?.job.imageUrl && (
          <JobDialog
            job={open.job}
            src={displayUrl(open.job.imageUrl, origin)}
            aspectRatios={aspectRatios}
            modelLabel={open.job.model ? modelLabels[open.job.model] : undefined}
            onPrevious={openIndex > 0 ? () => setOpenId(viewable[openIndex - 1]?.taskId) : undefined}
            onNext={
              openIndex < viewable.length - 1 ? () => setOpenId(viewable[openIndex + 1]?.taskId) : undefined
            }
            onDelete={() => setConfirming(true)}
            onCloseFocus={focusTile}
          />
        )}
      </Dialog>
      <ConfirmDelete
        open={confirming}
        onOpenChange={setConfirming}
        busy={deletion.isPending}
        onConfirm={() => open && deletion.mutate(open.taskId)}
      />
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
