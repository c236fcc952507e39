"use client";

import { CircleAlertIcon, LoaderCircleIcon } from "lucide-react";
import { useEffect, useState } from "react";
import { Badge } from "@/components/ui/badge";
import { cn } from "@/lib/ui/cn";
import { displayUrl } from "@/lib/ui/images";
import type { Job, JobStatus } from "@/lib/ui/types";

export const STATUS_LABELS: Record<JobStatus, string> = {
  pending: "Queued",
  processing: "Generating",
  succeeded: "Done",
  failed: "Failed",
  timeout: "Timed out",
};

const STATUS_STYLES: Record<JobStatus, string> = {
  pending: "bg-muted text-foreground",
  processing: "bg-muted text-foreground",
  succeeded: "border-success/40 text-success",
  failed: "border-destructive/40 text-destructive",
  timeout: "border-destructive/40 text-destructive",
};

/** Local time once in the browser; UTC on the server, so the first render matches. */
export function useDate(iso: string | undefined): string {
  const [local, setLocal] = useState(false);
  useEffect(() => setLocal(true), []);
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-US", {
    dateStyle: "medium",
    timeStyle: "short",
    ...(local ? {} : { timeZone: "UTC" }),
  }).format(new Date(iso));
}

export function costLabel(job: Job): string {
  if (job.creditsUsed === undefined) return "Cost pending";
  if (job.creditsUsed === 0) return "Not charged";
  return job.creditsUsed === 1 ? "Cost 1 credit" : `Cost ${job.creditsUsed} cr.`;
}

export function HistoryItem({
  job,
  origin,
  modelLabel,
  onOpen,
}: {
  job: Job;
  origin: string;
  modelLabel?: string;
  onOpen: () => void;
}) {
  const date = useDate(job.createdAt);
  const src = job.imageUrl ? displayUrl(job.imageUrl, origin) : undefined;
  // The grid shows the 256-px thumbnail (DESIGN.md §9); the dialog opens the full image.
  const thumbnail = job.thumbnailUrl ? displayUrl(job.thumbnailUrl, origin) : src;
  const running = job.status === "pending" || job.status === "processing";
  const settings = [modelLabel, job.aspectRatio && (job.aspectRatio === "auto" ? "Auto" : job.aspectRatio)]
    .filter(Boolean)
    .join(" · ");
  return (
    <li
      className="flex flex-col overflow-hidden rounded-xl border bg-card shadow-xs"
      data-task-id={job.taskId}
    >
      {src ? (
        <button
          type="button"
          onClick={onOpen}
          className="group relative block aspect-square overflow-hidden bg-muted"
          aria-label={`Open: ${job.prompt}`}
        >
          {/* The image keeps its shape inside the square: nothing is cropped. */}
          {/* biome-ignore lint/performance/noImgElement: same-origin result, lazily loaded */}
          <img
            src={thumbnail}
            alt={job.prompt}
            loading="lazy"
            decoding="async"
            width={job.width}
            height={job.height}
            className="absolute inset-0 m-auto h-auto max-h-full w-auto max-w-full transition-transform duration-300 group-hover:scale-[1.03]"
          />
        </button>
      ) : (
        <div className="flex aspect-square flex-col items-center justify-center gap-2 bg-muted p-4 text-center text-sm text-muted-foreground">
          {running ? (
            <LoaderCircleIcon className="size-6 animate-spin" aria-hidden />
          ) : (
            <CircleAlertIcon className="size-6" aria-hidden />
          )}
          <span>{running ? "Still working…" : (job.error?.message || "No image").slice(0, 140)}</span>
        </div>
      )}
      <div className="flex flex-1 flex-col gap-2 p-3">
        <p className="line-clamp-2 text-sm font-medium break-words" title={job.prompt}>
          {job.prompt}
        </p>
        <div className="mt-auto flex flex-col gap-1.5 text-xs text-muted-foreground">
          {settings && <span>{settings}</span>}
          <div className="flex items-center justify-between gap-2">
            <Badge className={cn(STATUS_STYLES[job.status])}>{STATUS_LABELS[job.status]}</Badge>
            <span>{costLabel(job)}</span>
          </div>
          <time dateTime={job.createdAt}>{date}</time>
        </div>
      </div>
    </li>
  );
}
