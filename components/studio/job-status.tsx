"use client";

import { LoaderCircleIcon } from "lucide-react";
import { useEffect, useState } from "react";
import { lineLabel } from "@/lib/ui/jobs";
import { isRunning } from "@/lib/ui/types";
import type { Run } from "./use-runs";

interface Props {
  runs: readonly Run[];
  /** "usually ~12 s", from this person's recent jobs. */
  typicalSeconds?: number;
  submitting: boolean;
}

function stateLabel(run: Run): string {
  const { status, queuePosition, etaMs } = run.job;
  if (status === "pending" && queuePosition !== undefined) return lineLabel(queuePosition, etaMs);
  return status === "pending" ? "Queued" : "Generating…";
}

/**
 * The one live region for progress (DESIGN.md §10): each running job's state and elapsed seconds.
 * It stays mounted so screen readers announce changes; between jobs it says what happened last.
 */
export function JobStatus({ runs, typicalSeconds, submitting }: Props) {
  const running = runs.filter((run) => isRunning(run.job.status));
  // Unknown until mounted: the server's clock must not be rendered into the page (hydration).
  const [now, setNow] = useState<number>();
  useEffect(() => {
    if (running.length === 0) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running.length]);

  const last = runs.find((run) => !isRunning(run.job.status));
  const lastDone =
    last?.job.status === "succeeded" && last.job.settledAt && last.job.createdAt
      ? Math.max(1, Math.round((Date.parse(last.job.settledAt) - Date.parse(last.job.createdAt)) / 1000))
      : undefined;

  return (
    <div role="status" aria-live="polite" className="text-sm">
      {submitting && running.length === 0 && (
        <p className="flex items-center gap-2 font-medium">
          <LoaderCircleIcon className="size-4 animate-spin" aria-hidden />
          Sending…
        </p>
      )}
      {running.length > 0 && (
        <ul className="flex flex-col gap-2">
          {running.map((run) => {
            const elapsed = now === undefined ? 0 : Math.max(0, Math.floor((now - run.startedAt) / 1000));
            return (
              <li key={run.taskId} className="flex flex-wrap items-center gap-x-2 gap-y-1">
                <LoaderCircleIcon className="size-4 animate-spin text-muted-foreground" aria-hidden />
                <span className="font-medium">{stateLabel(run)}</span>
                {/* Seen, not read out every second: the state changes are what a screen reader announces. */}
                <span className="tabular-nums text-muted-foreground" aria-hidden>
                  {elapsed} s
                </span>
                {typicalSeconds !== undefined && (
                  <span className="text-muted-foreground">· usually ~{typicalSeconds} s</span>
                )}
                {running.length > 1 && (
                  <span className="min-w-0 flex-1 truncate text-muted-foreground">— {run.job.prompt}</span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {!submitting && running.length === 0 && lastDone !== undefined && (
        <p className="text-muted-foreground">Done in {lastDone} s.</p>
      )}
    </div>
  );
}
