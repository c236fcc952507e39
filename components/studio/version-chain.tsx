"use client";

import { ChevronRightIcon } from "lucide-react";
import { cn } from "@/lib/ui/cn";
import type { Job } from "@/lib/ui/types";

interface Props {
  /** The original first, then each edit of the one before. */
  versions: readonly Job[];
  shown?: string;
  onSelect: (job: Job) => void;
  srcOf: (job: Job) => string;
}

/**
 * The chain of edits back to the original. Any version can be shown again, and "Edit this image"
 * on it starts a branch (its edit becomes a sibling of the edits it already has).
 */
export function VersionChain({ versions, shown, onSelect, srcOf }: Props) {
  return (
    <nav aria-label="Versions" className="flex flex-col gap-2">
      <p className="text-xs font-medium text-muted-foreground">
        Versions · choose one to edit it again (a new branch)
      </p>
      <ol className="flex items-center gap-1 overflow-x-auto pb-1">
        {versions.map((job, index) => (
          <li key={job.taskId} className="flex shrink-0 items-center gap-1">
            {index > 0 && <ChevronRightIcon className="size-4 shrink-0 text-muted-foreground" aria-hidden />}
            <button
              type="button"
              onClick={() => onSelect(job)}
              aria-current={job.taskId === shown ? "true" : undefined}
              aria-label={`Version ${index + 1}${index === 0 ? " (original)" : ""}: ${job.prompt}`}
              title={job.prompt}
              className={cn(
                "block size-14 overflow-hidden rounded-md border-2 border-transparent opacity-80 hover:opacity-100",
                job.taskId === shown && "border-foreground opacity-100",
              )}
            >
              {job.imageUrl && (
                // biome-ignore lint/performance/noImgElement: a thumbnail of a same-origin result
                <img src={srcOf(job)} alt="" className="size-full object-cover" loading="lazy" />
              )}
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
