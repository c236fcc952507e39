"use client";

import { ChevronsLeftRightIcon } from "lucide-react";
import { type KeyboardEvent, type PointerEvent, useRef, useState } from "react";

interface Side {
  src: string;
  alt: string;
}

interface Props {
  /** The parent: the image that was edited. */
  before: Side;
  /** The result. */
  after: Side;
}

const STEP = 5;
const PAGE = 20;
/** Where each key moves the divider (a slider's usual keys). */
const KEY_MOVES: Record<string, (current: number) => number> = {
  ArrowLeft: (value) => value - STEP,
  ArrowDown: (value) => value - STEP,
  ArrowRight: (value) => value + STEP,
  ArrowUp: (value) => value + STEP,
  PageDown: (value) => value - PAGE,
  PageUp: (value) => value + PAGE,
  Home: () => 0,
  End: () => 100,
};
const clamp = (value: number) => Math.min(100, Math.max(0, Math.round(value)));

/**
 * "Compare": the result over its parent, split by a divider a person drags, or moves with the
 * keyboard (a slider: arrows, Page Up/Down, Home, End). Left of the divider is before the edit.
 * Loaded only when asked for (it is not part of the studio's first load).
 */
export default function CompareSlider({ before, after }: Props) {
  const [value, setValue] = useState(50);
  const box = useRef<HTMLDivElement>(null);
  const handle = useRef<HTMLDivElement>(null);

  function fromPointer(event: PointerEvent<HTMLDivElement>) {
    const rect = box.current?.getBoundingClientRect();
    if (!rect || rect.width === 0) return;
    setValue(clamp(((event.clientX - rect.left) / rect.width) * 100));
  }

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    const move = KEY_MOVES[event.key];
    if (!move) return;
    event.preventDefault();
    setValue((current) => clamp(move(current)));
  }

  return (
    <div
      ref={box}
      className="relative touch-none overflow-hidden rounded-xl border bg-muted select-none"
      onPointerDown={(event) => {
        event.currentTarget.setPointerCapture(event.pointerId);
        fromPointer(event);
      }}
      onPointerMove={(event) => {
        if (event.currentTarget.hasPointerCapture(event.pointerId)) fromPointer(event);
      }}
      // After a drag the keys go on from where the pointer left the divider.
      onPointerUp={() => handle.current?.focus()}
      data-testid="compare"
    >
      {/* biome-ignore lint/performance/noImgElement: same-origin result, shown at its own size */}
      <img src={after.src} alt={after.alt} className="mx-auto block h-auto max-h-[70vh] w-auto max-w-full" />
      {/* biome-ignore lint/performance/noImgElement: the parent, clipped to the divider */}
      <img
        src={before.src}
        alt={before.alt}
        className="absolute inset-0 size-full object-contain"
        style={{ clipPath: `inset(0 ${100 - value}% 0 0)` }}
      />
      <span className="absolute top-2 left-2 rounded bg-black/70 px-2 py-0.5 text-xs text-white">Before</span>
      <span className="absolute top-2 right-2 rounded bg-black/70 px-2 py-0.5 text-xs text-white">After</span>
      <div
        className="absolute inset-y-0 w-0.5 -translate-x-1/2 bg-white shadow"
        style={{ left: `${value}%` }}
      />
      <div
        ref={handle}
        role="slider"
        tabIndex={0}
        aria-label="Compare with the previous version"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        aria-valuetext={`${value}% before, ${100 - value}% after`}
        aria-orientation="horizontal"
        onKeyDown={onKeyDown}
        className="absolute top-1/2 inline-flex size-9 -translate-x-1/2 -translate-y-1/2 cursor-ew-resize items-center justify-center rounded-full border bg-background shadow outline-none focus-visible:ring-2 focus-visible:ring-ring"
        style={{ left: `${value}%` }}
      >
        <ChevronsLeftRightIcon className="size-4" aria-hidden />
      </div>
    </div>
  );
}
