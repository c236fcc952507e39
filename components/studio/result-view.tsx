"use client";

import { CopyIcon, DownloadIcon, InfoIcon, PencilIcon, RefreshCwIcon, SplitIcon } from "lucide-react";
import { lazy, type Ref, Suspense, useState } from "react";
import { Button, buttonVariants } from "@/components/ui/button";
import { cn } from "@/lib/ui/cn";
import { downloadName, ratioLabel } from "@/lib/ui/images";
import type { Job } from "@/lib/ui/types";

export const ASPECT_CLASSES: Record<string, string> = {
  "1:1": "aspect-square",
  "2:3": "aspect-[2/3]",
  "3:2": "aspect-[3/2]",
  "3:4": "aspect-[3/4]",
  "4:3": "aspect-[4/3]",
  "4:5": "aspect-[4/5]",
  "5:4": "aspect-[5/4]",
  "9:16": "aspect-[9/16]",
  "16:9": "aspect-[16/9]",
  "21:9": "aspect-[21/9]",
};

// Loaded when first asked for: not part of the studio's first load.
const CompareSlider = lazy(() => import("./compare-slider"));

interface Props {
  /** Focused when the result arrives (tabIndex -1: reachable by script, not by Tab). */
  ref?: Ref<HTMLElement>;
  job: Job;
  src: string;
  aspectRatios: readonly string[];
  onEdit: () => void;
  onCopy: () => void;
  onAgain?: () => void;
  busy?: boolean;
  /** The image this one edited: "Compare" shows them split by a slider. */
  parent?: { src: string; prompt: string };
}

/** A finished image, large, with what a person does next (DESIGN.md §10). */
export function ResultView({ ref, job, src, aspectRatios, onEdit, onCopy, onAgain, busy, parent }: Props) {
  const [size, setSize] = useState<{ width: number; height: number }>();
  const [comparing, setComparing] = useState(false);
  const compare = comparing && parent;
  const format = (job.outputFormat ?? "png").toUpperCase();
  return (
    <figure
      ref={ref}
      tabIndex={-1}
      className="flex flex-col gap-3 rounded-xl outline-none focus-visible:ring-2 focus-visible:ring-ring focus-visible:ring-offset-4"
    >
      {compare ? (
        <Suspense fallback={<div className="aspect-square rounded-xl border bg-muted" />}>
          <CompareSlider
            before={{ src: parent.src, alt: `Before: ${parent.prompt}` }}
            after={{ src, alt: job.prompt }}
          />
        </Suspense>
      ) : (
        <div
          className={cn(
            "flex max-h-[70vh] items-center justify-center overflow-hidden rounded-xl border bg-muted",
            !size && (ASPECT_CLASSES[job.aspectRatio ?? ""] ?? "aspect-square"),
          )}
        >
          {/* biome-ignore lint/performance/noImgElement: same-origin result, shown at its own size */}
          <img
            key={src}
            src={src}
            alt={job.prompt}
            decoding="async"
            onLoad={(event) =>
              setSize({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
            }
            width={size?.width}
            height={size?.height}
            className="h-auto max-h-[70vh] w-auto max-w-full object-contain"
            data-testid="result-image"
          />
        </div>
      )}
      <figcaption className="flex flex-col gap-3">
        <p className="line-clamp-3 text-sm">{job.prompt}</p>
        <p className="text-xs text-muted-foreground tabular-nums">
          {size
            ? `${size.width} × ${size.height} · ${ratioLabel(size.width, size.height, aspectRatios)}`
            : "…"}
          {` · ${format}`}
          {job.creditsUsed !== undefined && ` · cost ${job.creditsUsed}`}
        </p>
        {job.warnings && job.warnings.length > 0 && (
          <ul className="flex flex-col gap-1 rounded-lg border bg-muted/50 px-3 py-2 text-sm">
            {job.warnings.map((warning) => (
              <li key={warning} className="flex gap-2">
                <InfoIcon className="mt-0.5 size-4 shrink-0 text-muted-foreground" aria-hidden />
                <span>{warning}</span>
              </li>
            ))}
          </ul>
        )}
        <div className="flex flex-wrap gap-2">
          <a
            href={src}
            download={downloadName(job.prompt, job.outputFormat)}
            className={buttonVariants({ variant: "default", size: "sm" })}
          >
            <DownloadIcon aria-hidden />
            Download
          </a>
          <Button variant="outline" size="sm" onClick={onEdit} disabled={busy}>
            <PencilIcon aria-hidden />
            Edit this image
          </Button>
          {parent && (
            <Button
              variant="outline"
              size="sm"
              aria-pressed={comparing}
              onClick={() => setComparing((on) => !on)}
            >
              <SplitIcon aria-hidden />
              Compare
            </Button>
          )}
          <Button variant="outline" size="sm" onClick={onCopy}>
            <CopyIcon aria-hidden />
            Copy prompt
          </Button>
          {onAgain && (
            <Button variant="outline" size="sm" onClick={onAgain} disabled={busy}>
              <RefreshCwIcon aria-hidden />
              Run again
            </Button>
          )}
        </div>
      </figcaption>
    </figure>
  );
}
