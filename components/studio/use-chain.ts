"use client";

import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { fetchGeneration } from "@/lib/ui/api";
import type { GenerationDetail, Job } from "@/lib/ui/types";

/** A deep chain is shown up to here (each version is one request). */
const MAX_VERSIONS = 30;

export const detailKey = (taskId: string) => ["generation", taskId] as const;

/** One job's detail, shared by every chain it belongs to (a finished job's parent never changes). */
function detailOf(client: QueryClient, taskId: string, signal: AbortSignal): Promise<GenerationDetail> {
  return client.fetchQuery({
    queryKey: detailKey(taskId),
    queryFn: () => fetchGeneration(taskId, signal),
    staleTime: 60_000,
  });
}

/**
 * The versions of an edited image, the original first: the job and its parents, walked back
 * through GET /api/generations/:taskId until a job that edited nothing (or whose parent is gone).
 */
export function useChain(taskId: string | undefined, enabled: boolean) {
  const client = useQueryClient();
  return useQuery({
    queryKey: ["chain", taskId],
    enabled: enabled && taskId !== undefined,
    staleTime: 60_000,
    queryFn: async ({ signal }): Promise<Job[]> => {
      const versions: Job[] = [];
      const seen = new Set<string>();
      let next: string | undefined = taskId;
      while (next && !seen.has(next) && versions.length < MAX_VERSIONS) {
        seen.add(next);
        const detail = await detailOf(client, next, signal);
        versions.unshift(detail.generation);
        next = detail.parent?.taskId;
      }
      return versions;
    },
  });
}
