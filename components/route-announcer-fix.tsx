"use client";

import { useEffect } from "react";

/**
 * Next.js announces client-side navigations through a hidden `role="alert"` element. Its live
 * region is kept (aria-live="assertive" still announces), but without the alert role: on this
 * site `role="alert"` means one thing — the error a person must read (DESIGN.md §10).
 */
export function RouteAnnouncerFix() {
  useEffect(() => {
    const fix = () => {
      const host = document.querySelector("next-route-announcer");
      const region = host?.shadowRoot?.getElementById("__next-route-announcer__");
      if (region?.getAttribute("role") === "alert") region.removeAttribute("role");
      return Boolean(region);
    };
    const observer = new MutationObserver(fix);
    observer.observe(document.body, { childList: true });
    const timers = [0, 50, 250, 1000, 3000].map((ms) => setTimeout(fix, ms));
    return () => {
      observer.disconnect();
      for (const timer of timers) clearTimeout(timer);
    };
  }, []);
  return null;
}
