import type { Metadata } from "next";
import Link from "next/link";
import { NoticePage } from "@/components/pages/notice-page";
import { buttonVariants } from "@/components/ui/button";

export const metadata: Metadata = { title: "Page not found" };

/** Any path without a page (and notFound() anywhere): answered 404 with a way back. */
export default function NotFound() {
  return (
    <NoticePage title="Page not found">
      <p className="text-sm text-muted-foreground">
        There is nothing at this address. It may have moved, or the link is mistyped.
      </p>
      <div className="flex gap-2">
        <Link href="/" className={buttonVariants()}>
          Back to the studio
        </Link>
        <Link href="/history" className={buttonVariants({ variant: "outline" })}>
          History
        </Link>
      </div>
    </NoticePage>
  );
}
