import { LoaderCircleIcon } from "lucide-react";
import { NoScriptNotice } from "@/components/pages/noscript-notice";

/**
 * While a page's server work runs (history's first page, the studio's recent jobs). Without
 * JavaScript the streamed page never replaces it: the notice says why.
 */
export default function Loading() {
  return (
    <div className="flex min-h-[50dvh] flex-col items-center justify-center gap-3 px-4">
      <div role="status" className="flex items-center gap-2 text-sm text-muted-foreground">
        <LoaderCircleIcon className="size-5 animate-spin" aria-hidden />
        Loading…
      </div>
      <NoScriptNotice />
    </div>
  );
}
