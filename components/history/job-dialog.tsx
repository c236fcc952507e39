"use client";

import { CopyIcon, DownloadIcon, PencilIcon } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { toast } from "sonner";
import { Button, buttonVariants } from "@/components/ui/button";
import { DialogContent, DialogDescription, DialogTitle } from "@/components/ui/dialog";
import { downloadName, ratioLabel } from "@/lib/ui/images";
import type { Job } from "@/lib/ui/types";
import { costLabel, STATUS_LABELS } from "./history-item";

interface Props {
  job: Job;
  src: string;
  date: string;
  aspectRatios: readonly string[];
}

/** One job, full size, with its details and what to do with it. */
export function JobDialog({ job, src, date, aspectRatios }: Props) {
  const [size, setSize] = useState<{ width: number; height: number }>();
  async function copy() {
    try {
      await navigator.clipboard.writeText(job.prompt);
      toast.success("Prompt copied");
    } catch {
      toast.error("Copying is not allowed here: select the prompt and copy it.");
    }
  }
  return (
    <DialogContent>
      <div className="grid gap-5 md:grid-cols-[minmax(0,1fr)_16rem]">
        <div className="flex items-center justify-center overflow-hidden rounded-lg bg-muted">
          {/* biome-ignore lint/performance/noImgElement: same-origin result at its own size */}
          <img
            src={src}
            alt={job.prompt}
            onLoad={(event) =>
              setSize({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
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
              <dt className="text-muted-foreground">Size</dt>
              <dd className="tabular-nums">
                {size
                  ? `${size.width} × ${size.height} (${ratioLabel(size.width, size.height, aspectRatios)})`
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
            <Button variant="outline" onClick={copy}>
              <CopyIcon aria-hidden />
              Copy prompt
            </Button>
          </div>
        </div>
      </div>
    </DialogContent>
  );
}
