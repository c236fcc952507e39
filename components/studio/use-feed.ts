"use client";

import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { fetchGenerations } from "@/lib/ui/api";
import type { Job } from "@/lib/ui/types";
import type { Run } from "./use-runs";

/** The first page of this person's jobs (GET /api/generations), shared by the studio's feed. */
export const RECENT_KEY = ["generations", "recent"] as const;

export function useRecentJobs(initial: Job[]) {
  return useQuery({
    queryKey: RECENT_KEY,
    queryFn: async ({ signal }) => (await fetchGenerations(null, signal)).generations,
    initialData: initial,
  });
}

const startOf = (job: Job) => Date.parse(job.createdAt ?? "") || 0;

/**
 * The results to show, newest first: the server's recent jobs (so a reload, another tab or a visit
 * to History loses nothing), with this page's runs over them (fresher, and they can run again).
 */
export function useResults(runs: readonly Run[], recent: readonly Job[]): Run[] {
  return useMemo(() => {
    const listed = new Map(recent.map((job) => [job.taskId, job]));
    // A run's answers carry fewer fields than the list (its parent, its size): the list fills them in.
    const merged: Run[] = runs.map((run) => {
      const job = listed.get(run.taskId);
      return job ? { ...run, job: { ...job, ...run.job } } : run;
    });
    const local = new Set(runs.map((run) => run.taskId));
    for (const job of recent) {
      if (!local.has(job.taskId)) merged.push({ taskId: job.taskId, job, startedAt: startOf(job) });
    }
    return merged
      .filter((run) => run.job.status === "succeeded" && run.job.imageUrl)
      .sort((a, b) => startOf(b.job) - startOf(a.job) || b.startedAt - a.startedAt);
  }, [runs, recent]);
}
