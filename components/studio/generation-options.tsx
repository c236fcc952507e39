"use client";

import { cn } from "@/lib/ui/cn";
import { type GenerationOptionsValue, IMAGE_COUNTS, optionsForModel } from "@/lib/ui/modelOptions";
import { priceOf, type StudioModel } from "@/lib/ui/types";

export { type GenerationOptionsValue, optionsForModel };

interface Props {
  models: readonly StudioModel[];
  value: GenerationOptionsValue;
  onChange: (value: GenerationOptionsValue) => void;
  disabled?: boolean;
}

const credits = (n: number) => (n === 1 ? "1 credit" : `${n} credits`);

/**
 * The options beside the prompt, each a native radio group (arrow keys, labels, forms for free).
 * A new option (a model picker) is one more group here.
 */
export function GenerationOptions({ models, value, onChange, disabled }: Props) {
  const model = models.find((m) => m.id === value.model) ?? models[0];
  if (!model) return null;
  const byId = new Map(models.map((m) => [m.id, m]));
  return (
    <div className="flex flex-col gap-5">
      <RadioGroup
        name="model"
        legend="Model"
        options={models.map((m) => m.id)}
        value={model.id}
        onChange={(id) => {
          const picked = byId.get(id);
          if (picked) onChange(optionsForModel(picked, value, model));
        }}
        disabled={disabled}
        className="grid gap-2"
        renderOption={(id) => {
          const m = byId.get(id);
          if (!m) return null;
          return (
            <span className="flex w-full items-baseline justify-between gap-3 text-left">
              <span className="text-sm font-medium">
                {m.label}
                {m.deprecated && (
                  <span className="text-xs font-normal text-muted-foreground" title={m.deprecated.reason}>
                    {" "}
                    being retired
                  </span>
                )}
              </span>
              <span className="text-xs tabular-nums">
                {m.credits.byResolution ? "from " : ""}
                {credits(
                  Math.min(m.credits.default, ...Object.values(m.credits.byResolution ?? {}).map(Number)),
                )}
              </span>
            </span>
          );
        }}
        optionClassName="px-3 py-2"
      />
      <RadioGroup
        name="aspectRatio"
        legend="Aspect ratio"
        options={model.options.aspectRatios}
        value={value.aspectRatio}
        onChange={(aspectRatio) => onChange({ ...value, aspectRatio })}
        disabled={disabled}
        className="grid grid-cols-4 gap-2 sm:grid-cols-6"
        renderOption={(ratio) => (
          <>
            <RatioShape ratio={ratio} />
            <span className="text-xs font-medium tabular-nums">{ratio === "auto" ? "Auto" : ratio}</span>
          </>
        )}
        optionClassName="flex-col gap-1 py-2"
      />
      {model.options.resolutions && (
        <RadioGroup
          name="resolution"
          legend="Resolution"
          options={model.options.resolutions}
          value={value.resolution ?? model.options.defaultResolution ?? ""}
          onChange={(resolution) => onChange({ ...value, resolution })}
          disabled={disabled}
          className="inline-grid grid-cols-3 gap-2 sm:w-80"
          renderOption={(resolution) => (
            <span className="flex flex-col items-center">
              <span className="text-sm font-medium">{resolution}</span>
              <span className="text-xs tabular-nums">{credits(priceOf(model, resolution))}</span>
            </span>
          )}
          optionClassName="py-1.5"
        />
      )}
      {model.options.googleSearch && (
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={value.googleSearch ?? false}
            onChange={(event) => onChange({ ...value, googleSearch: event.target.checked })}
            disabled={disabled}
            className="size-4 accent-primary"
          />
          Ground in Google Search
        </label>
      )}
      {model.options.outputFormats.length > 0 && (
        <RadioGroup
          name="outputFormat"
          legend="Output format"
          options={model.options.outputFormats}
          value={value.outputFormat ?? model.defaults.outputFormat ?? ""}
          onChange={(outputFormat) => onChange({ ...value, outputFormat })}
          disabled={disabled}
          className="grid w-full grid-cols-2 gap-2 sm:w-64"
          renderOption={(format) => <span className="text-sm font-medium">{format.toUpperCase()}</span>}
          optionClassName="h-9"
        />
      )}
      <RadioGroup
        name="count"
        legend="Images"
        options={IMAGE_COUNTS}
        value={String(value.count ?? 1)}
        onChange={(count) => onChange({ ...value, count: Number(count) })}
        disabled={disabled}
        className="grid w-full grid-cols-4 gap-2 sm:w-64"
        renderOption={(count) => <span className="text-sm font-medium tabular-nums">{count}</span>}
        optionClassName="h-9"
      />
    </div>
  );
}

interface RadioGroupProps {
  name: string;
  legend: string;
  options: readonly string[];
  value: string;
  onChange: (value: string) => void;
  disabled?: boolean;
  className?: string;
  optionClassName?: string;
  renderOption: (option: string) => React.ReactNode;
}

function RadioGroup({
  name,
  legend,
  options,
  value,
  onChange,
  disabled,
  className,
  optionClassName,
  renderOption,
}: RadioGroupProps) {
  const legendId = `${name}-legend`;
  return (
    // biome-ignore lint/a11y/noNoninteractiveElementToInteractiveRole: ARIA in HTML allows radiogroup on fieldset; it names the group for assistive tech and tests
    <fieldset role="radiogroup" aria-labelledby={legendId} className="min-w-0" disabled={disabled}>
      <legend id={legendId} className="mb-2 text-sm font-medium">
        {legend}
      </legend>
      <div className={className}>
        {options.map((option) => (
          <label
            key={option}
            className={cn(
              "relative flex cursor-pointer items-center justify-center rounded-md border border-input bg-card text-muted-foreground transition-colors hover:bg-accent hover:text-foreground",
              "has-[:checked]:border-foreground/70 has-[:checked]:bg-accent has-[:checked]:text-foreground",
              "has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-ring",
              "has-[:disabled]:cursor-not-allowed has-[:disabled]:opacity-60",
              optionClassName,
            )}
          >
            <input
              type="radio"
              name={name}
              value={option}
              checked={value === option}
              onChange={() => onChange(option)}
              // Covers its label, so a pointer lands on the radio itself (and tests can click it).
              className="absolute inset-0 m-0 cursor-pointer appearance-none rounded-md opacity-0"
            />
            {renderOption(option)}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** A small outline of the frame's shape; "auto" is drawn dashed. */
function RatioShape({ ratio }: { ratio: string }) {
  const [w, h] = ratio === "auto" ? [1, 1] : ratio.split(":").map(Number);
  const scale = 18 / Math.max(w || 1, h || 1);
  const width = Math.max(4, (w || 1) * scale);
  const height = Math.max(4, (h || 1) * scale);
  return (
    <svg viewBox="0 0 22 22" className="size-5" aria-hidden>
      <rect
        x={(22 - width) / 2}
        y={(22 - height) / 2}
        width={width}
        height={height}
        rx="2"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
        strokeDasharray={ratio === "auto" ? "3 2" : undefined}
      />
    </svg>
  );
}
