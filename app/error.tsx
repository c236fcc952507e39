"use client";

import Link from "next/link";
import { useEffect } from "react";
import { NoticePage } from "@/components/pages/notice-page";
import { Button, buttonVariants } from "@/components/ui/button";

/**
 * A page that failed while rendering (a database blip, say): said plainly, with "Try again" and
 * a way back. The detail stays in the server's log; `digest` is what the operator can look up.
 */
export default function ErrorPage({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  useEffect(() => {
    document.title = "Something went wrong · Nano Banana Studio";
  }, []);
  return (
    <NoticePage title="Something went wrong">
      <p role="alert" className="text-sm text-muted-foreground">
        This page could not be shown just now. Your images and credits are safe; try again in a moment.
      </p>
      {error.digest && <p className="text-xs text-muted-foreground">Reference: {error.digest}</p>}
      <div className="flex gap-2">
        <Button onClick={() => reset()}>Try again</Button>
        <Link href="/" className={buttonVariants({ variant: "outline" })}>
          Back to the studio
        </Link>
      </div>
    </NoticePage>
  );
}
