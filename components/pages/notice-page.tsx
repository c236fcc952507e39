import type { ReactNode } from "react";

/**
 * The frame of the pages that stand in for one that could not be shown (not found, an error,
 * loading): the studio's look, a heading, what happened, and a way on.
 */
export function NoticePage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main id="main" className="flex min-h-dvh items-start justify-center px-4 pt-[12vh] pb-16">
      <div className="flex w-full max-w-md flex-col items-center gap-4 text-center">
        <span aria-hidden className="text-4xl">
          🍌
        </span>
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        {children}
      </div>
    </main>
  );
}
