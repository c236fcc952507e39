"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ImageIcon, LoaderCircleIcon } from "lucide-react";
import Link from "next/link";
import { useEffect, useState } from "react";
import { toast } from "sonner";
import { useSetBalance } from "@/components/header/credits";
import { runsOf } from "@/components/studio/batch";
import { RECENT_KEY } from "@/components/studio/use-feed";
import { type Run, useRuns } from "@/components/studio/use-runs";
import { Button, buttonVariants } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { ApiProblem, deleteGeneration, inputFromRequest, submitGeneration } from "@/lib/ui/api";
import { problemMessage } from "@/lib/ui/errors";
import { displayUrl } from "@/lib/ui/images";
import { isRunning, type Job } from "@/lib/ui/types";
import { ConfirmDelete } from "./confirm-delete";
import { HistoryItem } from "./history-item";
import { JobDialog } from "./job-dialog";
import { useHistory, useNearViewport } from "./use-history";

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

/**
 * The history grid: running jobs update in place (the shared job watch), the next page loads as
 * the end of the grid comes near ("Load more" too, for whoever prefers it or has no observer).
 */
export function HistoryGrid({ initial, initialCursor, origin, aspectRatios, modelLabels }: Props) {
  const queryClient = useQueryClient();
  const setBalance = useSetBalance();
  const history = useHistory(initial, initialCursor);
  const [alert, setAlert] = useState<string>();
  const [openId, setOpenId] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const {
    runs: followed,
    append,
    remove,
  } = useRuns(initial.filter((job) => isRunning(job.status)).map(toRun), {
    onSettled: (run) => setBalance(run.job.remainingCredits),
    onProblem: () => undefined,
  });
  // Running jobs of later pages are followed too; each shows its latest state.
  useEffect(
    () => append(history.jobs.filter((job) => isRunning(job.status)).map(toRun)),
    [history.jobs, append],
  );
  const latest = new Map(followed.map((run) => [run.taskId, run.job]));
  const runs = history.jobs.map((job) => toRun(latest.get(job.taskId) ?? job));
  const sentinel = useNearViewport<HTMLDivElement>(history.loadMore, history.hasMore, runs.length);
  // The dialog pages through the jobs that have an image, in the grid's order.
  const viewable = runs.filter((run) => run.job.imageUrl);
  const openIndex = viewable.findIndex((run) => run.taskId === openId);
  const open = openIndex >= 0 ? viewable[openIndex] : undefined;

  // "Run again": the job's stored request as it is (references by their stored ids, no upload).
  const again = useMutation({
    mutationFn: (request: NonNullable<Job["request"]>) =>
      submitGeneration(inputFromRequest(request), crypto.randomUUID()),
    onSuccess: (answer, request) => {
      setBalance(answer.remainingCredits);
      history.prepend(runsOf(answer, inputFromRequest(request)).map((run) => run.job));
      setOpenId(undefined);
      void queryClient.invalidateQueries({ queryKey: RECENT_KEY });
      toast.success("Running again: the new image is first in your history.");
    },
    onError: (error) =>
      setAlert(problemMessage(error instanceof ApiProblem ? error : { code: "internal_error" })),
  });

  const deletion = useMutation({
    mutationFn: deleteGeneration,
    onSuccess: (_, taskId) => {
      setConfirming(false);
      setOpenId(undefined);
      remove(taskId);
      history.forget(taskId);
      void queryClient.invalidateQueries({ queryKey: RECENT_KEY });
      toast.success("Image deleted");
    },
    onError: (error) => {
      setConfirming(false);
      setAlert(problemMessage(error instanceof ApiProblem ? error : { code: "internal_error" }));
    },
  });

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
            onAgain={open.job.request ? () => again.mutate(open.job.request!) : undefined}
            againBusy={again.isPending}
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
      {(alert || history.error) && (
        <p role="alert" className="rounded-md bg-destructive-soft px-3 py-2 text-sm text-destructive">
          {alert ??
            problemMessage(history.error instanceof ApiProblem ? history.error : { code: "internal_error" })}
        </p>
      )}
      {history.hasMore && (
        <div ref={sentinel} className="flex justify-center">
          <Button variant="outline" onClick={history.loadMore} disabled={history.loading}>
            {history.loading && <LoaderCircleIcon className="animate-spin" aria-hidden />}
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}
