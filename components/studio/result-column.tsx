"use client";

import { type Ref, useEffect, useState } from "react";
import { displayUrl } from "@/lib/ui/images";
import type { Job } from "@/lib/ui/types";
import { BatchGrid } from "./batch-grid";
import { EmptyResult, PendingPreview } from "./result-placeholders";
import { ResultStrip } from "./result-strip";
import { ResultView } from "./result-view";
import { useChain } from "./use-chain";
import type { Run } from "./use-runs";
import { VersionChain } from "./version-chain";

interface Props {
  resultRef: Ref<HTMLElement>;
  /** The results to show, newest first. */
  results: readonly Run[];
  /** The newest job while it runs: it takes the stage. */
  pending?: Run;
  /** The newest request's jobs when it made several ("Images"): shown as a grid above the stage. */
  batch?: readonly Run[];
  selected?: string;
  onSelect: (taskId: string) => void;
  origin: string;
  aspectRatios: readonly string[];
  busy: boolean;
  onEdit: (job: Job) => void;
  onCopy: (prompt: string) => void;
  /** "Run again" for a shown job, when it can be repeated. */
  againFor: (run: Run) => (() => void) | undefined;
}

/**
 * The result column: the image in view, the chain of versions it was edited from (any of them can
 * be shown, compared with its parent, and edited again as a new branch) and the recent results.
 */
export function ResultColumn(props: Props) {
  const { results, selected, origin } = props;
  const batch = props.batch ?? [];
  const base = results.find((run) => run.taskId === selected) ?? results[0];
  // With a batch, the grid is the stage: one of its images is shown large once picked (or arrived).
  const pending = batch.length > 0 ? undefined : props.pending;
  const staged =
    batch.length === 0 ||
    (selected !== undefined && base?.taskId === selected) ||
    batch.some((run) => run.taskId === base?.taskId);
  // A version picked from the chain; let go when another result takes the stage.
  const [picked, setPicked] = useState<Job>();
  const baseId = base?.taskId;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset whenever the base result changes
  useEffect(() => setPicked(undefined), [baseId]);
  const chain = useChain(baseId, !!base?.job.parentTaskId);
  const versions = base?.job.parentTaskId ? (chain.data ?? []) : [];
  const shownJob = picked ?? base?.job;
  const shownRun: Run | undefined =
    picked && base ? { taskId: picked.taskId, job: picked, startedAt: 0 } : base;
  const index = versions.findIndex((job) => job.taskId === shownJob?.taskId);
  const parent = index > 0 ? versions[index - 1] : undefined;
  const srcOf = (job: Job) => displayUrl(job.imageUrl ?? "", origin);

  return (
    <section aria-label="Result" className="flex min-w-0 flex-col gap-4 lg:sticky lg:top-20 lg:self-start">
      {batch.length > 0 && origin && (
        <BatchGrid runs={batch} selected={base?.taskId} onSelect={props.onSelect} srcOf={srcOf} />
      )}
      {!staged ? null : pending ? (
        <PendingPreview aspectRatio={pending.job.aspectRatio} />
      ) : shownJob?.imageUrl && shownRun && origin ? (
        <ResultView
          ref={props.resultRef}
          job={shownJob}
          src={srcOf(shownJob)}
          aspectRatios={props.aspectRatios}
          busy={props.busy}
          onEdit={() => props.onEdit(shownJob)}
          onCopy={() => props.onCopy(shownJob.prompt)}
          onAgain={props.againFor(shownRun)}
          parent={parent?.imageUrl ? { src: srcOf(parent), prompt: parent.prompt } : undefined}
        />
      ) : (
        <EmptyResult />
      )}
      {!pending && versions.length > 1 && origin && (
        <VersionChain
          versions={versions}
          shown={shownJob?.taskId}
          onSelect={(job) => setPicked(job.taskId === baseId ? undefined : job)}
          srcOf={srcOf}
        />
      )}
      {results.length > 1 && origin && (
        <ResultStrip
          runs={results}
          selected={base?.taskId}
          onSelect={(taskId) => {
            setPicked(undefined);
            props.onSelect(taskId);
          }}
          srcOf={(job) => displayUrl(job.imageUrl!, origin)}
        />
      )}
    </section>
  );
}
