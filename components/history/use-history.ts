"use client";

import { type InfiniteData, useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef } from "react";
import { fetchGenerations, type GenerationsPage } from "@/lib/ui/api";
import type { Job } from "@/lib/ui/types";

export const HISTORY_KEY = ["generations", "history"] as const;

type Pages = InfiniteData<GenerationsPage, string | null>;

/**
 * Every job of this person, newest first: the server-rendered first page, then the next pages by
 * the list API's cursor as the end of the grid comes near (or "Load more" is pressed).
 */
export function useHistory(initial: Job[], initialCursor: string | null) {
  const client = useQueryClient();
  const query = useInfiniteQuery({
    queryKey: HISTORY_KEY,
    queryFn: ({ pageParam, signal }) => fetchGenerations(pageParam, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    initialData: { pages: [{ generations: initial, nextCursor: initialCursor }], pageParams: [null] },
    // The first page came with the HTML; what changes later comes through the job watch.
    staleTime: Number.POSITIVE_INFINITY,
  });
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;

  const jobs = useMemo(() => {
    const seen = new Set<string>();
    return (query.data?.pages ?? [])
      .flatMap((page) => page.generations)
      .filter((job) => !seen.has(job.taskId) && seen.add(job.taskId));
  }, [query.data]);

  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  /** A deleted job leaves every page. */
  const forget = useCallback(
    (taskId: string) =>
      client.setQueryData<Pages>(
        HISTORY_KEY,
        (data) =>
          data && {
            ...data,
            pages: data.pages.map((page) => ({
              ...page,
              generations: page.generations.filter((job) => job.taskId !== taskId),
            })),
          },
      ),
    [client],
  );

  /** Jobs just started (Run again) go first. */
  const prepend = useCallback(
    (started: Job[]) =>
      client.setQueryData<Pages>(
        HISTORY_KEY,
        (data) =>
          data && {
            ...data,
            pages: data.pages.map((page, index) =>
              index === 0 ? { ...page, generations: [...started, ...page.generations] } : page,
            ),
          },
      ),
    [client],
  );

  return {
    jobs,
    loadMore,
    forget,
    prepend,
    hasMore: hasNextPage,
    loading: isFetchingNextPage,
    error: query.isFetchNextPageError ? query.error : undefined,
  };
}

/** Calls `onVisible` when the element nears the viewport (infinite scroll); a button stays as the fallback. */
export function useNearViewport<T extends Element>(onVisible: () => void, enabled: boolean, size: number) {
  const ref = useRef<T>(null);
  const callback = useRef(onVisible);
  callback.current = onVisible;
  // Observed again once more jobs are in: a sentinel still in view after a short page loads more.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `size` re-arms the observer on purpose
  useEffect(() => {
    const element = ref.current;
    if (!enabled || !element || typeof IntersectionObserver !== "function") return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) callback.current();
      },
      { rootMargin: "400px 0px" },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, [enabled, size]);
  return ref;
}
