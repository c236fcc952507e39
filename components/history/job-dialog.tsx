"use client";

import {
  ChevronLeftIcon,
  ChevronRightIcon,
  CopyIcon,
  DownloadIcon,
  ImagePlusIcon,
  PencilIcon,
  RefreshCwIcon,
  SlidersHorizontalIcon,
  Trash2Icon,
} from "lucide-react";
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { toast } from "sonner";
import { Button, buttonVariants } from "@/components/ui/button";
import { DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { downloadName, ratioLabel } from "@/lib/ui/images";
import type { Job } from "@/lib/ui/types";
import { costLabel, STATUS_LABELS, useDate } from "./history-item";

interface Props {
  job: Job;
  src: string;
  aspectRatios: readonly string[];
  modelLabel?: string;
  /** Undefined at the ends of the list. */
  onPrevious?: () => void;
  onNext?: () => void;
  onDelete: () => void;
  /** "Run again" with the job's stored request; absent for a job made before requests were kept. */
  onAgain?: () => void;
  againBusy?: boolean;
  onCloseFocus: (event: Event) => void;
}

/** One job, full size, with its details, what to do with it, and its neighbours in History. */
export function JobDialog({
  job,
  src,
  aspectRatios,
  modelLabel,
  onPrevious,
  onNext,
  onDelete,
  onAgain,
  againBusy,
  onCloseFocus,
}: Props) {
  const date = useDate(job.createdAt);
  const [size, setSize] = useState<{ taskId: string; width: number; height: number }>();
  const shownSize = size?.taskId === job.taskId ? size : undefined;
  async function copy() {
    try {
      await navigator.clipboard.writeText(job.prompt);
      toast.success("Prompt copied");
    } catch {
      toast.error("Copying is not allowed here: select the prompt and copy it.");
    }
  }
  // ← and → page through History, as the Previous and Next buttons do. On the document: the button
  // that was pressed last may be disabled now (at an end), which leaves the focus on <body>.
  const paging = useRef({ onPrevious, onNext });
  paging.current = { onPrevious, onNext };
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || document.querySelector('[role="alertdialog"]')) return;
      const target = event.target as HTMLElement | null;
      if (target?.closest("input, textarea, select, [contenteditable]")) return;
      const go =
        event.key === "ArrowLeft"
          ? paging.current.onPrevious
          : event.key === "ArrowRight"
            ? paging.current.onNext
            : undefined;
      if (!go) return;
      event.preventDefault();
      go();
    };
    document.addEventListener("keydown", onKeyDown);
    return () => document.removeEventListener("keydown", onKeyDown);
  }, []);
  return (
    <DialogContent onCloseAutoFocus={onCloseFocus}>
      <div className="grid gap-5 md:grid-cols-[minmax(0,1fr)_16rem]">
        <div className="flex items-center justify-center overflow-hidden rounded-lg bg-muted">
          {/* biome-ignore lint/performance/noImgElement: same-origin result at its own size */}
          <img
            key={src}
            src={src}
            alt={job.prompt}
            onLoad={(event) =>
              setSize({
                taskId: job.taskId,
                width: event.currentTarget.naturalWidth,
                height: event.currentTarget.naturalHeight,
              })
            }
            className="h-auto max-h-[70vh] w-auto max-w-full object-contain"
          />
        </div>
        <div className="flex min-w-0 flex-col gap-4">
          <DialogTitle className="pr-8 text-base leading-snug font-semibold break-words">
            {job.prompt}
          </DialogTitle>
          <DialogDescription asChild>
            <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1.5 text-sm">
              <dt className="text-muted-foreground">Status</dt>
              <dd>{STATUS_LABELS[job.status]}</dd>
              <dt className="text-muted-foreground">Created</dt>
              <dd>{date}</dd>
              {modelLabel && (
                <>
                  <dt className="text-muted-foreground">Model</dt>
                  <dd>{modelLabel}</dd>
                </>
              )}
              {job.aspectRatio && (
                <>
                  <dt className="text-muted-foreground">Asked ratio</dt>
                  <dd>{job.aspectRatio === "auto" ? "Auto" : job.aspectRatio}</dd>
                </>
              )}
              <dt className="text-muted-foreground">Size</dt>
              <dd className="tabular-nums">
                {shownSize
                  ? `${shownSize.width} × ${shownSize.height} (${ratioLabel(shownSize.width, shownSize.height, aspectRatios)})`
                  : "…"}
              </dd>
              <dt className="text-muted-foreground">Format</dt>
              <dd>{(job.outputFormat ?? "png").toUpperCase()}</dd>
              <dt className="text-muted-foreground">Kind</dt>
              <dd>{job.type === "image_edit" ? "Edit" : "Text to image"}</dd>
              <dt className="text-muted-foreground">Cost</dt>
              <dd>{costLabel(job)}</dd>
            </dl>
          </DialogDescription>
          <div className="flex flex-col gap-2">
            <a href={src} download={downloadName(job.prompt, job.outputFormat)} className={buttonVariants()}>
              <DownloadIcon aria-hidden />
              Download
            </a>
            <Link
              href={`/?edit=${encodeURIComponent(job.taskId)}`}
              className={buttonVariants({ variant: "outline" })}
            >
              <PencilIcon aria-hidden />
              Edit this image
            </Link>
            <Link
              href={`/?reference=${encodeURIComponent(job.taskId)}`}
              className={buttonVariants({ variant: "outline" })}
            >
              <ImagePlusIcon aria-hidden />
              Use as reference
            </Link>
            <Link
              href={`/?settings=${encodeURIComponent(job.taskId)}`}
              className={buttonVariants({ variant: "outline" })}
            >
              <SlidersHorizontalIcon aria-hidden />
              Use these settings
            </Link>
            {onAgain && (
              <Button variant="outline" onClick={onAgain} disabled={againBusy}>
                <RefreshCwIcon aria-hidden />
                Run again
              </Button>
            )}
            <Button variant="outline" onClick={copy}>
              <CopyIcon aria-hidden />
              Copy prompt
            </Button>
            <Button variant="outline" onClick={onDelete}>
              <Trash2Icon aria-hidden />
              Delete
            </Button>
          </div>
          <div className="mt-auto flex justify-between gap-2">
            <Button variant="ghost" size="sm" onClick={onPrevious} disabled={!onPrevious}>
              <ChevronLeftIcon aria-hidden />
              Previous
            </Button>
            <Button variant="ghost" size="sm" onClick={onNext} disabled={!onNext}>
              Next
              <ChevronRightIcon aria-hidden />
            </Button>
          </div>
        </div>
      </div>
    </DialogContent>
  );
}
