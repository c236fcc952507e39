"use client";

import { ImagePlusIcon, XIcon } from "lucide-react";
import { useDropzone } from "react-dropzone";
import { cn } from "@/lib/ui/cn";
import { formatBytes } from "@/lib/ui/files";

export interface Reference {
  id: string;
  file: File;
  previewUrl: string;
}

interface Props {
  references: readonly Reference[];
  maxImages: number;
  maxUploadBytes: number;
  onAdd: (files: File[]) => void;
  onRemove: (id: string) => void;
  disabled?: boolean;
}

/**
 * Reference images by file picker, drag-and-drop or paste (the studio listens for paste on the
 * whole page). The file input itself stays in the tab order, so the picker is keyboard-usable.
 */
export function ReferenceImages({ references, maxImages, maxUploadBytes, onAdd, onRemove, disabled }: Props) {
  const full = references.length >= maxImages;
  const { getRootProps, getInputProps, isDragActive } = useDropzone({
    onDrop: (accepted, rejected) => onAdd([...accepted, ...rejected.map((rejection) => rejection.file)]),
    noClick: true,
    noKeyboard: true,
    noPaste: true,
    multiple: true,
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
        {...getRootProps({
          className: cn(
            "rounded-lg border border-dashed border-input p-3 transition-colors",
            isDragActive && "border-foreground/60 bg-accent",
          ),
        })}
        data-testid="dropzone"
      >
        {references.length > 0 && (
          <ul className="mb-3 grid grid-cols-3 gap-2 sm:grid-cols-5">
            {references.map((reference) => (
              <li key={reference.id} className="group relative">
                {/* biome-ignore lint/performance/noImgElement: a local blob preview, nothing to optimise */}
                <img
                  src={reference.previewUrl}
                  alt={`Reference: ${reference.file.name}`}
                  className="aspect-square w-full rounded-md border object-cover"
                />
                <span className="sr-only">{formatBytes(reference.file.size)}</span>
                <button
                  type="button"
                  onClick={() => onRemove(reference.id)}
                  disabled={disabled}
                  className="absolute top-1 right-1 inline-flex size-7 items-center justify-center rounded-full bg-black/70 text-white shadow hover:bg-black/90"
                  aria-label={`Remove ${reference.file.name}`}
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
            {...getInputProps({
              style: undefined,
              tabIndex: 0,
              "aria-label": undefined,
              "aria-labelledby": "references-label",
              "aria-describedby": "references-hint",
              accept: "image/png,image/jpeg,image/webp",
              disabled: full || disabled,
              className: "absolute inset-0 size-full cursor-pointer opacity-0",
            })}
          />
          <ImagePlusIcon className="size-5" aria-hidden />
          <span>
            <span className="font-medium text-foreground">Choose images</span>, drop them here, or paste
          </span>
          <span id="references-hint" className="text-xs">
            PNG, JPEG or WebP · up to {maxImages} · {formatBytes(maxUploadBytes)} each
          </span>
        </label>
      </div>
    </div>
  );
}
