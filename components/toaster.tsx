"use client";

import { useTheme } from "next-themes";
import { useEffect, useState } from "react";

/**
 * Toasts without sonner in the first load (issue 27: first-load JS of `/`): the toaster is
 * loaded after the first paint, and `toast()` waits until it is on the page, so no toast is lost
 * to a toaster that was not listening yet.
 */
type Sonner = typeof import("sonner");

let sonner: Promise<Sonner> | undefined;
const load = () => {
  sonner ??= import("sonner");
  return sonner;
};
let markMounted: () => void = () => {};
const mounted = new Promise<void>((resolve) => {
  markMounted = resolve;
});

async function show(use: (module: Sonner) => unknown): Promise<void> {
  const module = await load();
  await mounted;
  use(module);
}

export const toast = Object.assign((text: string) => void show((s) => s.toast(text)), {
  success: (text: string) => void show((s) => s.toast.success(text)),
  error: (text: string) => void show((s) => s.toast.error(text)),
});

export function LazyToaster() {
  const { resolvedTheme } = useTheme();
  const [module, setModule] = useState<Sonner>();
  useEffect(() => {
    let live = true;
    load().then((loaded) => live && setModule(loaded));
    return () => {
      live = false;
    };
  }, []);
  // A parent's effect runs after its children's: the Toaster below is subscribed by now.
  useEffect(() => {
    if (module) markMounted();
  }, [module]);
  if (!module) return null;
  // No richColors: its palette fails colour contrast.
  return (
    <module.Toaster
      theme={resolvedTheme === "dark" ? "dark" : "light"}
      position="bottom-center"
      closeButton
    />
  );
}
