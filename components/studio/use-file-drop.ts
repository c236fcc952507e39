"use client";

import { type DragEvent, useRef, useState } from "react";

/**
 * Drag and drop onto the reference area, without a library (issue 27: first-load JS): files go
 * to `onFiles` (the studio checks each itself), an image dragged from another tab brings only
 * its address (`text/uri-list`), which goes to `onLink`.
 */
export function useFileDrop({
  onFiles,
  onLink,
  disabled,
}: {
  onFiles: (files: File[]) => void;
  onLink: (text: string) => void;
  disabled?: boolean;
}) {
  const [isDragActive, setDragActive] = useState(false);
  // dragenter/dragleave fire for every child crossed: count them to know when the pointer left.
  const depth = useRef(0);

  const over = (event: DragEvent) => {
    event.preventDefault(); // without this the browser opens the dropped file instead
    if (event.dataTransfer) event.dataTransfer.dropEffect = disabled ? "none" : "copy";
  };
  return {
    isDragActive,
    rootProps: {
      onDragEnter: (event: DragEvent) => {
        over(event);
        depth.current++;
        if (!disabled) setDragActive(true);
      },
      onDragOver: over,
      onDragLeave: () => {
        depth.current = Math.max(0, depth.current - 1);
        if (depth.current === 0) setDragActive(false);
      },
      onDrop: (event: DragEvent) => {
        event.preventDefault();
        depth.current = 0;
        setDragActive(false);
        if (disabled) return;
        const files = Array.from(event.dataTransfer?.files ?? []);
        if (files.length > 0) onFiles(files);
        else onLink(event.dataTransfer?.getData("text/uri-list") ?? "");
      },
    },
  };
}
