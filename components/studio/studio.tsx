"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ME_KEY, useMe, useSetBalance } from "@/components/header/credits";
import { NoScriptNotice } from "@/components/pages/noscript-notice";
import { toast } from "@/components/toaster";
import { ApiProblem, type GenerateInput, submitGeneration } from "@/lib/ui/api";
import type { EditSource } from "@/lib/ui/draft";
import { failedJobMessage, problemMessage } from "@/lib/ui/errors";
import { displayUrl } from "@/lib/ui/images";
import { typicalSeconds } from "@/lib/ui/jobs";
import { linkIn } from "@/lib/ui/links";
import { type PendingSubmission, submissionFor } from "@/lib/ui/submission";
import { isRunning, type Job, type Me, type StudioSettings } from "@/lib/ui/types";
import { againOf, newestBatch, priceCheck, runsOf } from "./batch";
import { EditSourceImage } from "./edit-source";
import { GenerateBar } from "./generate-bar";
import { GenerationOptions } from "./generation-options";
import { PromptField } from "./prompt-field";
import { ReferenceImages } from "./reference-images";
import { ResultColumn } from "./result-column";
import { type SettingsFrom, useDraft } from "./use-draft";
import { RECENT_KEY, useRecentJobs, useResults } from "./use-feed";
import { useReferences } from "./use-references";
import { useRuns } from "./use-runs";

export interface StudioProps {
  settings: StudioSettings;
  /** The first page of this person's history: running jobs resume, finished ones give the estimate. */
  recent: Job[];
  /** Opened from History's "Edit this image": that result is the one being edited. */
  editFrom?: EditSource;
  /** Opened from History's "Use as reference": the image is added to the references. */
  referenceFrom?: { imageUrl: string; prompt: string };
  /** Opened from History's "Use these settings": the form starts from that job. */
  settingsFrom?: SettingsFrom;
}

export function Studio({ settings, recent, editFrom, referenceFrom, settingsFrom }: StudioProps) {
  const queryClient = useQueryClient();
  const setBalance = useSetBalance();
  const promptRef = useRef<HTMLTextAreaElement>(null);
  const { prompt, setPrompt, options, setOptions, source, setSource } = useDraft(
    settings,
    settingsFrom,
    editFrom,
  );
  // Checked before sending (the server checks again): the price against the balance in the header.
  const { cost, shortOfCredits } = priceCheck(settings, options, useMe().data?.balance);
  const [alert, setAlert] = useState<string>();
  const alertRef = useRef<HTMLDivElement>(null);
  const resultRef = useRef<HTMLElement>(null);
  // What arrives next takes the focus (issue 25): the result, or the error saying why there is none.
  const focusNext = useRef<"result" | "alert" | undefined>(undefined);
  const showProblem = useCallback((message: string) => {
    focusNext.current = "alert";
    setAlert(message);
  }, []);
  const [submitting, setSubmitting] = useState(false);
  const submittingRef = useRef(false);
  // Kept until the server accepts the job: a retry of the same inputs reuses its key.
  const pendingRef = useRef<PendingSubmission | undefined>(undefined);
  const [selected, setSelected] = useState<string>();
  const [origin, setOrigin] = useState("");
  useEffect(() => setOrigin(window.location.origin), []);

  const references = useReferences(settings, setAlert);

  const balanceNow = useCallback(async () => {
    await queryClient.invalidateQueries({ queryKey: ME_KEY });
    return queryClient.getQueryData<Me>(ME_KEY)?.balance;
  }, [queryClient]);

  const { runs, add } = useRuns(
    recent
      .filter((job) => isRunning(job.status))
      .map((job) => ({ taskId: job.taskId, job, startedAt: Date.parse(job.createdAt ?? "") || Date.now() })),
    {
      onSettled: (run) => {
        setBalance(run.job.remainingCredits);
        void queryClient.invalidateQueries({ queryKey: RECENT_KEY });
        if (run.job.status === "succeeded") {
          focusNext.current = "result";
          setSelected(run.taskId);
        } else showProblem(failedJobMessage(run.job));
      },
      onProblem: (error) => showProblem(problemMessage(asProblem(error))),
    },
  );

  const feed = useRecentJobs(recent).data ?? recent;
  const results = useResults(runs, feed);
  const estimate = useMemo(() => typicalSeconds([...runs.map((run) => run.job), ...feed]), [runs, feed]);
  // The newest job, while it runs, takes the stage (older results stay in the strip).
  const pending = runs[0] && isRunning(runs[0].job.status) ? runs[0] : undefined;
  const batch = newestBatch(runs);

  async function generate(input: GenerateInput) {
    if (submittingRef.current) return; // a double click is one submission
    const trimmed = input.prompt.trim();
    if (!trimmed) {
      setAlert("Write a prompt first: describe the image you want.");
      promptRef.current?.focus();
      return;
    }
    if (trimmed.length > settings.maxPromptChars) {
      setAlert(
        `The prompt is too long: ${trimmed.length} characters, the limit is ${settings.maxPromptChars}.`,
      );
      return;
    }
    submittingRef.current = true;
    setSubmitting(true);
    setAlert(undefined);
    try {
      const submission = submissionFor(pendingRef.current, { ...input, prompt: trimmed });
      pendingRef.current = submission;
      const accepted = await submitGeneration(submission.input, submission.key);
      pendingRef.current = undefined;
      setBalance(accepted.remainingCredits);
      const started = runsOf(accepted, { ...input, prompt: trimmed });
      // Each to the front, the first job last: the batch reads in the order asked.
      for (const run of [...started].reverse()) add(run);
      void queryClient.invalidateQueries({ queryKey: RECENT_KEY });
      const done = started.find((run) => run.job.status === "succeeded");
      if (done) {
        focusNext.current = "result";
        setSelected(done.taskId);
      } else if (started.length > 1) setSelected(undefined); // the batch's grid takes the stage
    } catch (error) {
      const problem = asProblem(error);
      const balance = problem.code === "insufficient_credits" ? await balanceNow() : undefined;
      showProblem(
        problemMessage(problem, {
          balance,
          cost,
          maxUploadMiB: Math.round(settings.maxUploadBytes / (1024 * 1024)),
        }),
      );
    } finally {
      submittingRef.current = false;
      setSubmitting(false);
    }
  }

  const submitForm = () =>
    generate({
      prompt,
      ...options,
      n: options.count ?? 1,
      sourceTaskId: source?.taskId,
      files: references.items.flatMap((reference) => (reference.file ? [reference.file] : [])),
      urls: references.items.flatMap((reference) => (reference.url ? [reference.url] : [])),
    });

  // The result becomes the only reference, sent by its id (the server has it): the next edit sends
  // it alone, however many came before. Editing an earlier version starts a branch.
  function editResult(job: Job) {
    if (!job.imageUrl) return;
    for (const item of references.items) references.remove(item.id);
    setSource({ taskId: job.taskId, imageUrl: job.imageUrl, prompt: job.prompt });
    setPrompt("");
    promptRef.current?.focus();
    toast("This image is now the reference: describe the change.");
  }

  // Focus follows what arrived, unless the person is already typing the next prompt.
  useEffect(() => {
    const target =
      focusNext.current === "alert"
        ? alertRef.current
        : focusNext.current === "result"
          ? resultRef.current
          : null;
    if (!target) return;
    focusNext.current = undefined;
    const active = document.activeElement;
    if (
      active instanceof HTMLTextAreaElement ||
      (active instanceof HTMLInputElement && active.type === "text")
    )
      return;
    target.focus();
  });

  async function copyPrompt(text: string) {
    try {
      await navigator.clipboard.writeText(text);
      toast.success("Prompt copied");
    } catch {
      toast.error("Copying is not allowed here: select the prompt and copy it.");
    }
  }

  // History's "Edit this image" lands here with ?edit=… (the draft takes it): the prompt is next.
  useEffect(() => {
    if (editFrom) promptRef.current?.focus();
  }, [editFrom]);
  // History's "Use as reference" lands here with ?reference=…: the image is added once.
  const referenceHandled = useRef(false);
  useEffect(() => {
    if (!referenceFrom || !origin || !references.restored || referenceHandled.current) return;
    referenceHandled.current = true;
    references.addFromUrl(displayUrl(referenceFrom.imageUrl, origin), referenceFrom.prompt).then(() => {
      window.history.replaceState(null, "", "/");
      promptRef.current?.focus();
    });
  }, [referenceFrom, origin, references]);

  // Paste an image anywhere on the page to add it; its link too, outside the text fields (where a
  // pasted link is text being typed).
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const files = Array.from(event.clipboardData?.files ?? []);
      if (files.length > 0) {
        event.preventDefault();
        references.add(files);
        return;
      }
      const target = event.target;
      if (target instanceof HTMLTextAreaElement || target instanceof HTMLInputElement) return;
      const text = event.clipboardData?.getData("text/plain") ?? "";
      if (!linkIn(text)) return;
      event.preventDefault();
      references.addLink(text);
    };
    document.addEventListener("paste", onPaste);
    return () => document.removeEventListener("paste", onPaste);
  }, [references]);

  const costLabel = cost === 1 ? "1 credit" : `${cost} credits`;
  const hasReferences = references.items.length > 0 || source !== undefined;

  return (
    <div className="grid gap-6 lg:grid-cols-[minmax(0,26rem)_minmax(0,1fr)] lg:gap-8">
      <form
        className="flex flex-col gap-5 rounded-xl border bg-card p-4 shadow-xs sm:p-5"
        onSubmit={(event) => {
          event.preventDefault();
          submitForm();
        }}
        aria-label="Generate an image"
      >
        <NoScriptNotice />
        <PromptField
          ref={promptRef}
          value={prompt}
          onChange={setPrompt}
          onSubmit={submitForm}
          maxChars={settings.maxPromptChars}
          placeholder={
            hasReferences
              ? "Describe the change, e.g. “turn it into a watercolor”"
              : "A banana astronaut floating above the Earth, 35 mm photo"
          }
        />
        {source && origin && (
          <EditSourceImage
            source={source}
            src={displayUrl(source.imageUrl, origin)}
            onRemove={() => setSource(undefined)}
          />
        )}
        <ReferenceImages
          references={references.items}
          // The image being edited counts toward the limit.
          maxImages={settings.maxImages - (source ? 1 : 0)}
          maxUploadBytes={settings.maxUploadBytes}
          onAdd={references.add}
          onAddLink={references.addLink}
          onRemove={references.remove}
        />
        <GenerationOptions models={settings.models} value={options} onChange={setOptions} />
        <GenerateBar
          label={`Generate · ${costLabel}`}
          submitting={submitting}
          busy={references.busy}
          blockedReason={shortOfCredits}
          alert={alert}
          alertRef={alertRef}
          runs={runs}
          typicalSeconds={estimate}
        />
      </form>

      <ResultColumn
        resultRef={resultRef}
        results={results}
        pending={pending}
        batch={batch}
        selected={selected}
        onSelect={setSelected}
        origin={origin}
        aspectRatios={settings.aspectRatios}
        busy={submitting}
        onEdit={editResult}
        onCopy={copyPrompt}
        againFor={(run) => againOf(run, generate)}
      />
    </div>
  );
}

function asProblem(error: unknown): ApiProblem {
  return error instanceof ApiProblem ? error : new ApiProblem("internal_error", "", 0);
}
