"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import type { GenerateInput } from "@/lib/ui/api";
import { isRunning, type Job } from "@/lib/ui/types";
import { followShared } from "@/lib/ui/watch";

/** One generation the page knows about: submitted here, or resumed from history after a reload. */
export interface Run {
  taskId: string;
  job: Job;
  /** When it started (epoch ms), for the elapsed seconds. */
  startedAt: number;
  /** What was submitted, so "Generate again" can repeat it; absent for a resumed job. */
  input?: GenerateInput;
}

export interface RunEvents {
  onSettled: (run: Run) => void;
  onProblem: (error: unknown, run: Run) => void;
}

/**
 * The runs of this page, each running one followed through the watch all tabs share (one request
 * for all of them, lib/ui/watch.ts). A follow ends when its job settles or the page goes away; the
 * job itself lives on the server either way.
 */
export function useRuns(initial: Run[], events: RunEvents) {
  const [runs, setRuns] = useState<Run[]>(initial);
  const following = useRef(new Map<string, AbortController>());
  const eventsRef = useRef(events);
  eventsRef.current = events;

  const update = useCallback((taskId: string, job: Job) => {
    setRuns((current) =>
      current.map((run) => (run.taskId === taskId ? { ...run, job: mergeJob(run.job, job) } : run)),
    );
  }, []);

  useEffect(() => {
    for (const run of runs) {
      if (!isRunning(run.job.status) || following.current.has(run.taskId)) continue;
      const controller = new AbortController();
      following.current.set(run.taskId, controller);
      followShared(run.taskId, { signal: controller.signal, onUpdate: (job) => update(run.taskId, job) })
        .then((job) => eventsRef.current.onSettled({ ...run, job: mergeJob(run.job, job) }))
        .catch((error) => {
          if (!controller.signal.aborted) eventsRef.current.onProblem(error, run);
        })
        .finally(() => {
          if (following.current.get(run.taskId) === controller) following.current.delete(run.taskId);
        });
    }
  }, [runs, update]);

  useEffect(() => {
    const map = following.current;
    return () => {
      for (const controller of map.values()) controller.abort();
      map.clear();
    };
  }, []);

  const add = useCallback((run: Run) => {
    setRuns((current) => [run, ...current.filter((other) => other.taskId !== run.taskId)]);
  }, []);

  /** Older runs (the next page of history), after the ones already known. */
  const append = useCallback((more: Run[]) => {
    setRuns((current) => {
      const known = new Set(current.map((run) => run.taskId));
      return [...current, ...more.filter((run) => !known.has(run.taskId))];
    });
  }, []);

  /** A run gone from the server (deleted): no longer followed or shown. */
  const remove = useCallback((taskId: string) => {
    following.current.get(taskId)?.abort();
    setRuns((current) => current.filter((run) => run.taskId !== taskId));
  }, []);

  return { runs, add, append, remove };
}

/** A newer answer about a job; one without a place in line means the job has left the line. */
function mergeJob(previous: Job, next: Job): Job {
  return { ...previous, queuePosition: undefined, etaMs: undefined, ...next };
}
