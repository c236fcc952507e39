"use client";

import { CameraIcon, ImagePlusIcon, LinkIcon, XIcon } from "lucide-react";
import { cn } from "@/lib/ui/cn";
import { formatBytes, PICKER_ACCEPT } from "@/lib/ui/files";
import { linkIn } from "@/lib/ui/links";
import { useFileDrop } from "./use-file-drop";

/** A file (shown from a blob: preview) or an https image link (sent as it is, never fetched here). */
export interface Reference {
  id: string;
  name: string;
  file?: File;
  previewUrl?: string;
  url?: string;
}

interface Props {
  references: readonly Reference[];
  maxImages: number;
  maxUploadBytes: number;
  onAdd: (files: File[]) => void;
  /** A link dragged in from another tab (`text/uri-list`, no file). */
  onAddLink: (text: string) => void;
  onRemove: (id: string) => void;
  disabled?: boolean;
}

/**
 * Reference images by file picker, drag-and-drop or paste (the studio listens for paste on the
 * whole page). The file input itself stays in the tab order, so the picker is keyboard-usable.
 */
export function ReferenceImages({
  references,
  maxImages,
  maxUploadBytes,
  onAdd,
  onAddLink,
  onRemove,
  disabled,
}: Props) {
  const full = references.length >= maxImages;
  const { rootProps, isDragActive } = useFileDrop({
    onFiles: onAdd,
    onLink: (text) => {
      const link = linkIn(text);
      if (link) onAddLink(link);
    },
    disabled,
  });

  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-baseline justify-between gap-2">
        <span id="references-label" className="text-sm font-medium">
          Reference images
        </span>
        <span className="text-xs text-muted-foreground tabular-nums">
          {references.length} / {maxImages} · optional
        </span>
      </div>
      <div
        {...rootProps}
        className={cn(
          "rounded-lg border border-dashed border-input p-3 transition-colors",
          isDragActive && "border-foreground/60 bg-accent",
        )}
        data-testid="dropzone"
      >
        {references.length > 0 && (
          <ul className="mb-3 grid grid-cols-3 gap-2 sm:grid-cols-5">
            {references.map((reference) => (
              <li key={reference.id} className="group relative">
                {reference.file ? (
                  <>
                    {/* biome-ignore lint/performance/noImgElement: a local blob preview, nothing to optimise */}
                    <img
                      src={reference.previewUrl}
                      alt={`Reference: ${reference.name}`}
                      className="aspect-square w-full rounded-md border object-cover"
                    />
                    <span className="sr-only">{formatBytes(reference.file.size)}</span>
                  </>
                ) : (
                  <span className="flex aspect-square w-full flex-col items-center justify-center gap-1 overflow-hidden rounded-md border bg-muted p-1 text-center text-[10px] leading-tight break-all text-muted-foreground">
                    <LinkIcon className="size-4 shrink-0" aria-hidden />
                    <span className="sr-only">Image link: </span>
                    <span className="line-clamp-3">{reference.url?.replace(/^https:\/\//, "")}</span>
                  </span>
                )}
                <button
                  type="button"
                  onClick={() => onRemove(reference.id)}
                  disabled={disabled}
                  className="absolute top-1 right-1 inline-flex size-7 items-center justify-center rounded-full bg-black/70 text-white shadow hover:bg-black/90"
                  aria-label={`Remove ${reference.name}`}
                  title="Remove"
                >
                  <XIcon className="size-4" aria-hidden />
                </button>
              </li>
            ))}
          </ul>
        )}
        <label
          className={cn(
            "relative flex cursor-pointer flex-col items-center justify-center gap-1 rounded-md px-3 py-4 text-center text-sm text-muted-foreground hover:bg-accent hover:text-foreground",
            "has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-ring",
            (full || disabled) && "pointer-events-none opacity-60",
          )}
        >
          <input
            type="file"
            multiple
            accept={PICKER_ACCEPT}
            aria-labelledby="references-label"
            aria-describedby="references-hint"
            disabled={full || disabled}
            className="absolute inset-0 size-full cursor-pointer opacity-0"
            onChange={(event) => {
              const files = Array.from(event.currentTarget.files ?? []);
              // Cleared so choosing the same file again (after removing it) adds it again.
              event.currentTarget.value = "";
              if (files.length > 0) onAdd(files);
            }}
          />
          <ImagePlusIcon className="size-5" aria-hidden />
          <span>
            <span className="font-medium text-foreground">Choose images</span>, drop them here, or paste an
            image or its link
          </span>
          <span id="references-hint" className="text-xs">
            PNG, JPEG, WebP or HEIC · up to {maxImages} · {formatBytes(maxUploadBytes)} each (larger photos
            are scaled down)
          </span>
        </label>
        {/* Phones open the camera for this one; laptops have no use for it. */}
        <label
          className={cn(
            "relative mt-2 flex cursor-pointer items-center justify-center gap-2 rounded-md border px-3 py-2 text-sm font-medium hover:bg-accent sm:hidden",
            "has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-ring",
            (full || disabled) && "pointer-events-none opacity-60",
          )}
        >
          <input
            type="file"
            accept="image/*"
            capture="environment"
            disabled={full || disabled}
            className="absolute inset-0 size-full cursor-pointer opacity-0"
            onChange={(event) => {
              const files = Array.from(event.currentTarget.files ?? []);
              event.currentTarget.value = "";
              if (files.length > 0) onAdd(files);
            }}
          />
          <CameraIcon className="size-4" aria-hidden />
          Take photo
        </label>
      </div>
    </div>
  );
}
