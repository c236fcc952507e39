"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { loadReferences, saveReferences } from "@/lib/ui/draft";
import { prepareImageFile } from "@/lib/ui/files";
import { downloadName } from "@/lib/ui/images";
import { linkReference } from "@/lib/ui/links";
import type { StudioSettings } from "@/lib/ui/types";
import type { Reference } from "./reference-images";

/**
 * The reference images of the form: each file is made to fit first (HEIC converted, turned
 * upright, scaled down) and then checked like the server checks it (type by magic bytes, size,
 * count), before it is shown or uploaded. Image links (https) are kept as links: KIE fetches them.
 */
export function useReferences(
  settings: Pick<StudioSettings, "maxImages" | "maxUploadBytes">,
  report: (message: string | undefined) => void,
) {
  const [items, setItems] = useState<Reference[]>([]);
  const [busy, setBusy] = useState(false);
  // False until the references kept from before a reload are back (they come first).
  const [restored, setRestored] = useState(false);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const reportRef = useRef(report);
  reportRef.current = report;
  const { maxImages, maxUploadBytes } = settings;

  const add = useCallback(
    async (files: File[]): Promise<number> => {
      if (files.length === 0) return 0;
      setBusy(true);
      const problems: string[] = [];
      const accepted: Reference[] = [];
      let room = maxImages - itemsRef.current.length;
      let skipped = 0;
      try {
        for (const file of files) {
          if (room <= 0) {
            skipped++;
            continue;
          }
          const prepared = await prepareImageFile(file, { maxImages, maxUploadBytes });
          if (!prepared.ok) {
            problems.push(prepared.reason);
            continue;
          }
          const { file: ready } = prepared;
          accepted.push({
            id: newId(),
            name: ready.name,
            file: ready,
            previewUrl: URL.createObjectURL(ready),
          });
          room--;
        }
      } finally {
        setBusy(false);
      }
      if (skipped > 0) {
        problems.push(
          `You can add up to ${maxImages} reference images; ${skipped === 1 ? "1 file was" : `${skipped} files were`} not added.`,
        );
      }
      if (accepted.length > 0) {
        itemsRef.current = [...itemsRef.current, ...accepted];
        setItems(itemsRef.current);
      }
      reportRef.current(problems.length > 0 ? problems.join(" ") : undefined);
      return accepted.length;
    },
    [maxImages, maxUploadBytes],
  );

  /** A pasted or dropped link: an https image URL becomes a reference; anything else says why. */
  const addLink = useCallback(
    (text: string): boolean => {
      const link = linkReference(text);
      if (!link.ok) {
        reportRef.current(link.reason);
        return false;
      }
      if (itemsRef.current.some((item) => item.url === link.url)) return true;
      if (itemsRef.current.length >= maxImages) {
        reportRef.current(`You can add up to ${maxImages} reference images; the link was not added.`);
        return false;
      }
      itemsRef.current = [...itemsRef.current, { id: newId(), name: link.name, url: link.url }];
      setItems(itemsRef.current);
      reportRef.current(undefined);
      return true;
    },
    [maxImages],
  );

  const remove = useCallback((id: string) => {
    const gone = itemsRef.current.find((item) => item.id === id);
    if (gone?.previewUrl) URL.revokeObjectURL(gone.previewUrl);
    itemsRef.current = itemsRef.current.filter((item) => item.id !== id);
    setItems(itemsRef.current);
  }, []);

  const clear = useCallback(() => {
    for (const item of itemsRef.current) if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    itemsRef.current = [];
    setItems(itemsRef.current);
  }, []);

  /**
   * A result (same-origin URL) as a reference image: "Use as reference" adds it, "Edit this image"
   * replaces the others with it (once it has loaded: a failed load keeps what was there).
   */
  const addFromUrl = useCallback(
    async (src: string, prompt: string, mode: "add" | "replace" = "add"): Promise<boolean> => {
      try {
        const response = await fetch(src, { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        const blob = await response.blob();
        const name = downloadName(prompt, blob.type === "image/jpeg" ? "jpeg" : "png");
        if (mode === "replace") clear();
        return (await add([new File([blob], name, { type: blob.type })])) > 0;
      } catch {
        reportRef.current(
          "That image could not be loaded as a reference. Try again, or download it and add it.",
        );
        return false;
      }
    },
    [add, clear],
  );

  useEffect(() => {
    let live = true;
    loadReferences().then((kept) => {
      if (!live) return;
      const back = kept.map(({ id, name, type, blob }) => {
        const file = new File([blob], name, { type });
        return { id, name, file, previewUrl: URL.createObjectURL(file) };
      });
      itemsRef.current = [...back, ...itemsRef.current].slice(0, maxImages);
      setItems(itemsRef.current);
      setRestored(true);
    });
    return () => {
      live = false;
    };
  }, [maxImages]);

  // Kept for a reload once restored (before that, saving would forget what is being restored).
  useEffect(() => {
    if (!restored) return;
    // Links are not kept: they are one paste away, and IndexedDB holds the files.
    void saveReferences(
      items.flatMap(({ id, file }) => (file ? [{ id, name: file.name, type: file.type, blob: file }] : [])),
    );
  }, [items, restored]);

  useEffect(
    () => () => {
      for (const item of itemsRef.current) if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    },
    [],
  );

  return useMemo(
    () => ({ items, busy, restored, add, addLink, remove, addFromUrl }),
    [items, busy, restored, add, addLink, remove, addFromUrl],
  );
}

function newId(): string {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}
