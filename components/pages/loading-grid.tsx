/**
 * What stands in while a page's list is still coming from the server (a Suspense fallback inside
 * the page, never a route-level loading.tsx: that would stream every page and turn the sign-in
 * redirect into a 200, DESIGN.md §10). Motion stops with prefers-reduced-motion (globals.css).
 */
export function LoadingGrid({ label }: { label: string }) {
  return (
    <div role="status" className="flex flex-col gap-3">
      <span className="text-sm text-muted-foreground">{label}</span>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-4" aria-hidden>
        {Array.from({ length: 8 }, (_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: fixed placeholders, never reordered
          <div key={i} className="aspect-square animate-pulse rounded-lg border bg-muted" />
        ))}
      </div>
    </div>
  );
}
