"use client";

import { useEffect, useState } from "react";
import { type EditSource, loadTextDraft, saveTextDraft } from "@/lib/ui/draft";
import type { StudioSettings } from "@/lib/ui/types";
import { type GenerationOptionsValue, optionsForModel } from "./generation-options";

/** The first model's own defaults (GET /api/models), not a guess such as "auto". */
function defaultOptions(settings: StudioSettings): GenerationOptionsValue {
  const first = settings.models[0];
  return first ? optionsForModel(first, {}) : { model: "", aspectRatio: "auto" };
}

/** Options kept before a reload, through the same rules as picking the model again (stale ones drop). */
function keptOptions(settings: StudioSettings, kept: Record<string, unknown>): GenerationOptionsValue {
  const model = settings.models.find((m) => m.id === kept.model);
  if (!model) return defaultOptions(settings);
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  // No previous model: every kept value the model offers stays; the rest take its defaults.
  return optionsForModel(model, {
    aspectRatio: text(kept.aspectRatio),
    outputFormat: text(kept.outputFormat),
    resolution: text(kept.resolution),
    googleSearch: typeof kept.googleSearch === "boolean" ? kept.googleSearch : undefined,
    count: typeof kept.count === "number" && kept.count >= 1 && kept.count <= 4 ? kept.count : undefined,
  });
}

/** What History's "Use these settings" brings: the job's prompt and the options the list knows. */
export interface SettingsFrom {
  prompt: string;
  model?: string;
  aspectRatio?: string;
  outputFormat?: string;
  resolution?: string;
  googleSearch?: boolean;
  /** "Images": the job's `n`. */
  count?: number;
  /** The image the job edited (its `sourceTaskId`): the form edits it again. */
  source?: EditSource;
}

/**
 * The prompt and the options of the form, kept in this tab's sessionStorage so a reload does not
 * lose them (issue 25). The server renders the defaults; the kept draft replaces them once mounted.
 */
export function useDraft(settings: StudioSettings, settingsFrom?: SettingsFrom, editFrom?: EditSource) {
  const [prompt, setPrompt] = useState("");
  // The result being edited ("Edit this image"): sent as sourceTaskId, never uploaded again.
  const [source, setSource] = useState<EditSource>();
  const [options, setOptions] = useState(() => defaultOptions(settings));
  const [loaded, setLoaded] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: read once, when the page mounts
  useEffect(() => {
    const kept = settingsFrom
      ? { prompt: settingsFrom.prompt, options: { ...settingsFrom } }
      : loadTextDraft();
    if (settingsFrom || editFrom) window.history.replaceState(null, "", "/");
    if (kept) {
      setPrompt(kept.prompt);
      setOptions(keptOptions(settings, kept.options));
    }
    // History's "Edit this image" (?edit=) replaces whatever was being edited.
    const keptSource = editFrom ?? (settingsFrom ? settingsFrom.source : loadTextDraft()?.source);
    if (keptSource) setSource(keptSource);
    setLoaded(true);
  }, []);

  useEffect(() => {
    if (loaded) saveTextDraft({ prompt, options: { ...options }, source });
  }, [loaded, prompt, options, source]);

  return { prompt, setPrompt, options, setOptions, source, setSource, loaded };
}
