"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ThemeProvider } from "next-themes";
import { type ReactNode, useState } from "react";
import { RouteAnnouncerFix } from "./route-announcer-fix";
import { LazyToaster } from "./toaster";

/** Theme (light/dark/system), server state (react-query) and toasts for every page. */
export function Providers({ children, nonce }: { children: ReactNode; nonce?: string }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: true } },
      }),
  );
  return (
    <ThemeProvider
      attribute="class"
      defaultTheme="system"
      enableSystem
      disableTransitionOnChange
      nonce={nonce}
    >
      <QueryClientProvider client={queryClient}>
        {children}
        <LazyToaster />
        <RouteAnnouncerFix />
      </QueryClientProvider>
    </ThemeProvider>
  );
}
