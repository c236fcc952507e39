"use client";

import { type KeyboardEvent, type Ref, useSyncExternalStore } from "react";
import { cn } from "@/lib/ui/cn";

interface Props {
  value: string;
  onChange: (value: string) => void;
  onSubmit: () => void;
  maxChars: number;
  placeholder: string;
  ref?: Ref<HTMLTextAreaElement>;
}

/** The prompt, with its character count; ⌘/Ctrl+Enter submits. */
export function PromptField({ value, onChange, onSubmit, maxChars, placeholder, ref }: Props) {
  const length = value.length;
  const over = length > maxChars;
  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) {
      event.preventDefault();
      onSubmit();
    }
  }
  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-baseline justify-between gap-2">
        <label htmlFor="prompt" className="text-sm font-medium">
          Prompt
        </label>
        <span
          id="prompt-count"
          className={cn(
            "text-xs tabular-nums",
            over ? "font-medium text-destructive" : "text-muted-foreground",
          )}
        >
          {length.toLocaleString("en-US")} / {maxChars.toLocaleString("en-US")}
        </span>
      </div>
      <textarea
        id="prompt"
        ref={ref}
        name="prompt"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={onKeyDown}
        placeholder={placeholder}
        rows={5}
        aria-describedby="prompt-count prompt-hint"
        aria-invalid={over || undefined}
        className="min-h-32 w-full resize-y rounded-lg border border-input bg-background px-3 py-2.5 text-base shadow-xs placeholder:text-muted-foreground md:text-sm"
      />
      <p id="prompt-hint" className="text-xs text-muted-foreground">
        Describe the picture, or the change to make to your reference images.{" "}
        <kbd className="rounded border px-1 font-sans">{useModifierKey()}</kbd>+
        <kbd className="rounded border px-1 font-sans">Enter</kbd> to generate.
      </p>
    </div>
  );
}

const noSubscription = () => () => {};

/** "⌘" on Apple devices, "Ctrl" elsewhere (and in the server's HTML, before the browser says). */
function useModifierKey(): string {
  return useSyncExternalStore(
    noSubscription,
    () => (/Mac|iPhone|iPad|iPod/.test(navigator.platform || navigator.userAgent) ? "⌘" : "Ctrl"),
    () => "Ctrl",
  );
}
