"use client";

import { SparklesIcon } from "lucide-react";
import { cn } from "@/lib/ui/cn";
import { failedJobMessage } from "@/lib/ui/errors";
import { isRunning, type Job } from "@/lib/ui/types";
import type { Run } from "./use-runs";

interface Props {
  /** The batch's runs, in the order asked. */
  runs: readonly Run[];
  selected?: string;
  onSelect: (taskId: string) => void;
  srcOf: (job: Job) => string;
}

/**
 * The newest request's images ("Images" > 1) side by side: each as it arrives, a pulse while it
 * runs, and why, in words, for one that failed (only the delivered ones are charged).
 */
export function BatchGrid({ runs, selected, onSelect, srcOf }: Props) {
  return (
    <ul aria-label="Images of this request" className="grid grid-cols-2 gap-2">
      {runs.map((run, index) => {
        const { job } = run;
        const label = `Image ${index + 1} of ${runs.length}`;
        return (
          <li key={run.taskId} className="aspect-square overflow-hidden rounded-lg border bg-muted">
            {job.status === "succeeded" && job.imageUrl ? (
              <button
                type="button"
                onClick={() => onSelect(run.taskId)}
                aria-current={run.taskId === selected ? "true" : undefined}
                aria-label={`Show image ${index + 1} of ${runs.length}`}
                className={cn(
                  "block size-full border-2 border-transparent",
                  run.taskId === selected && "border-foreground",
                )}
              >
                {/* biome-ignore lint/performance/noImgElement: a same-origin result, sized by the grid */}
                <img src={srcOf(job)} alt={job.prompt} className="size-full object-cover" />
              </button>
            ) : isRunning(job.status) ? (
              <div
                className="relative flex size-full items-center justify-center"
                role="img"
                aria-label={`${label}: generating`}
              >
                <div className="absolute inset-0 animate-pulse bg-gradient-to-br from-primary/25 via-transparent to-primary/10" />
                <SparklesIcon className="size-6 animate-pulse text-muted-foreground" aria-hidden />
              </div>
            ) : (
              <p className="flex size-full items-center justify-center p-3 text-center text-xs text-destructive">
                {label}: {failedJobMessage(job)}
              </p>
            )}
          </li>
        );
      })}
    </ul>
  );
}
