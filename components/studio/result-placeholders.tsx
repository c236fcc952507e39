"use client";

import { SparklesIcon } from "lucide-react";
import { cn } from "@/lib/ui/cn";
import { ASPECT_CLASSES } from "./result-view";

/** The stage while a job runs: the shape of the image to come. */
export function PendingPreview({ aspectRatio }: { aspectRatio?: string }) {
  return (
    <div
      className={cn(
        "relative flex max-h-[70vh] w-full items-center justify-center overflow-hidden rounded-xl border bg-muted",
        ASPECT_CLASSES[aspectRatio ?? ""] ?? "aspect-square",
      )}
      aria-hidden
    >
      <div className="absolute inset-0 animate-pulse bg-gradient-to-br from-primary/25 via-transparent to-primary/10" />
      <SparklesIcon className="size-8 animate-pulse text-muted-foreground" />
    </div>
  );
}

export function EmptyResult() {
  return (
    <div className="flex aspect-[4/3] flex-col items-center justify-center gap-2 rounded-xl border border-dashed bg-muted/40 p-6 text-center">
      <SparklesIcon className="size-6 text-muted-foreground" aria-hidden />
      <p className="text-sm font-medium">Your image will appear here</p>
      <p className="max-w-xs text-xs text-muted-foreground">
        Write a prompt, pick a shape, and press Generate. Add reference images to edit a photo instead.
      </p>
    </div>
  );
}
