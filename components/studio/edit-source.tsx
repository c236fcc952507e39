"use client";

import { XIcon } from "lucide-react";
import type { EditSource } from "@/lib/ui/draft";

interface Props {
  source: EditSource;
  src: string;
  onRemove: () => void;
}

/**
 * The result being edited ("Edit this image"): the server takes it from its own store by its id
 * (sourceTaskId), so nothing is uploaded again and it is the only reference unless more are added.
 */
export function EditSourceImage({ source, src, onRemove }: Props) {
  return (
    <div className="flex items-center gap-3 rounded-lg border bg-muted/40 p-2">
      {/* biome-ignore lint/performance/noImgElement: a same-origin result, shown small */}
      <img
        src={src}
        alt={`Reference: ${source.prompt}`}
        className="size-14 shrink-0 rounded-md border object-cover"
      />
      <p className="min-w-0 flex-1 text-sm">
        <span className="font-medium">Editing this image</span>
        <span className="line-clamp-1 text-xs text-muted-foreground">{source.prompt}</span>
      </p>
      <button
        type="button"
        onClick={onRemove}
        className="inline-flex size-8 shrink-0 items-center justify-center rounded-full hover:bg-accent"
        aria-label="Stop editing this image"
        title="Stop editing this image"
      >
        <XIcon className="size-4" aria-hidden />
      </button>
    </div>
  );
}
