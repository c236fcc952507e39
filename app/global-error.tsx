"use client";

import "./globals.css";

/**
 * The last resort, when the root layout itself failed: it replaces the whole document, so it has
 * its own <html> and <body> and no providers. Plain markup, a reload and a way back.
 */
export default function GlobalError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <html lang="en">
      <body className="min-h-dvh">
        <main className="flex min-h-dvh items-start justify-center px-4 pt-[12vh] pb-16">
          <div className="flex w-full max-w-md flex-col items-center gap-4 text-center">
            <h1 className="text-2xl font-semibold tracking-tight">Something went wrong</h1>
            <p role="alert" className="text-sm">
              Nano Banana Studio could not start this page. Your images and credits are safe.
            </p>
            {error.digest && <p className="text-xs">Reference: {error.digest}</p>}
            <div className="flex gap-2">
              <button type="button" className="rounded-md border px-3 py-2 text-sm" onClick={() => reset()}>
                Try again
              </button>
              <a className="rounded-md border px-3 py-2 text-sm" href="/">
                Back to the studio
              </a>
            </div>
          </div>
        </main>
      </body>
    </html>
  );
}
