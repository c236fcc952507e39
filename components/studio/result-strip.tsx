"use client";

import { cn } from "@/lib/ui/cn";
import type { Job } from "@/lib/ui/types";
import type { Run } from "./use-runs";

interface Props {
  runs: readonly Run[];
  selected?: string;
  onSelect: (taskId: string) => void;
  srcOf: (job: Job) => string;
}

/** Your recent results (the server's, newest first); one click shows a result large again. */
export function ResultStrip({ runs, selected, onSelect, srcOf }: Props) {
  return (
    <nav aria-label="Recent results">
      <ul className="flex gap-2 overflow-x-auto pb-1">
        {runs.map((run, index) => (
          <li key={run.taskId} className="shrink-0">
            <button
              type="button"
              onClick={() => onSelect(run.taskId)}
              aria-current={run.taskId === selected ? "true" : undefined}
              aria-label={`Show result ${runs.length - index}`}
              title={run.job.prompt}
              className={cn(
                "block size-16 overflow-hidden rounded-md border-2 border-transparent opacity-80 hover:opacity-100",
                run.taskId === selected && "border-foreground opacity-100",
              )}
            >
              {/* biome-ignore lint/performance/noImgElement: a thumbnail of a same-origin result */}
              <img src={srcOf(run.job)} alt="" className="size-full object-cover" loading="lazy" />
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
