"use client";

import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { CoinsIcon } from "lucide-react";
import { useCallback } from "react";
import { callApi } from "@/lib/ui/api";
import type { Me } from "@/lib/ui/types";

export const ME_KEY = ["me"] as const;

/** The signed-in person and balance; the server renders the first value, jobs update it. */
export function useMe(initial?: Me) {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: ({ signal }) => callApi<Me>("/api/me", { signal }),
    initialData: initial,
  });
}

export function setBalance(queryClient: QueryClient, balance: number | undefined): void {
  if (typeof balance !== "number") return;
  queryClient.setQueryData<Me>(ME_KEY, (me) => (me ? { ...me, balance } : me));
}

export function useSetBalance(): (balance: number | undefined) => void {
  const queryClient = useQueryClient();
  return useCallback((balance) => setBalance(queryClient, balance), [queryClient]);
}

/** "9 credits" in the header (DESIGN.md §10: always "N credits"). */
export function CreditsBalance({ initial }: { initial: Me }) {
  const { data } = useMe(initial);
  const balance = data?.balance ?? initial.balance;
  return (
    <span
      className="inline-flex items-center gap-1.5 rounded-full bg-muted px-2.5 py-1 text-sm font-medium whitespace-nowrap tabular-nums"
      data-testid="credits"
    >
      <CoinsIcon className="size-4 text-muted-foreground max-sm:hidden" aria-hidden />
      <span>{`${balance} credits`}</span>
    </span>
  );
}
