"use client";

import { LoaderCircleIcon, SparklesIcon } from "lucide-react";
import { type Ref, useId } from "react";
import { Button } from "@/components/ui/button";
import { JobStatus } from "./job-status";
import type { Run } from "./use-runs";

interface Props {
  /** "Generate · 4 credits". */
  label: string;
  submitting: boolean;
  /** Busy preparing references: the click would send an incomplete form. */
  busy: boolean;
  /** Why Generate cannot be pressed now ("You have 2 credits; this needs 4."), shown under it. */
  blockedReason?: string;
  alert?: string;
  alertRef: Ref<HTMLDivElement>;
  runs: readonly Run[];
  typicalSeconds?: number;
}

/**
 * Generate with what happens next right under it: the reason it is disabled, the job's status and
 * any error. On a desktop it sticks to the bottom of the window, so the moment of action is always
 * in view however long the form is (issue 25).
 */
export function GenerateBar({
  label,
  submitting,
  busy,
  blockedReason,
  alert,
  alertRef,
  runs,
  typicalSeconds,
}: Props) {
  const reasonId = useId();
  return (
    <div className="flex flex-col gap-3 bg-card lg:sticky lg:bottom-0 lg:z-10 lg:-mx-5 lg:-mb-5 lg:rounded-b-xl lg:border-t lg:px-5 lg:pt-4 lg:pb-5">
      <Button
        type="submit"
        size="lg"
        disabled={submitting || busy || blockedReason !== undefined}
        aria-describedby={blockedReason ? reasonId : undefined}
        className="w-full"
      >
        {submitting ? (
          <LoaderCircleIcon className="animate-spin" aria-hidden />
        ) : (
          <SparklesIcon aria-hidden />
        )}
        {label}
      </Button>
      {blockedReason && (
        <p id={reasonId} className="text-sm text-muted-foreground">
          {blockedReason}
        </p>
      )}
      <JobStatus runs={runs} typicalSeconds={typicalSeconds} submitting={submitting} />
      {alert && (
        <div
          ref={alertRef}
          role="alert"
          tabIndex={-1}
          className="rounded-lg border border-destructive/40 bg-destructive-soft px-4 py-3 text-sm text-destructive outline-none focus-visible:ring-2 focus-visible:ring-ring"
        >
          {alert}
        </div>
      )}
    </div>
  );
}
