import { FlaskConicalIcon, HistoryIcon, KeyRoundIcon } from "lucide-react";
import Link from "next/link";
import { Badge } from "@/components/ui/badge";
import type { Me } from "@/lib/ui/types";
import { CreditsBalance } from "./credits";
import { SignOutButton, type SupabasePublicConfig } from "./sign-out-button";
import { ThemeToggle } from "./theme-toggle";

export function Logo() {
  return (
    <svg viewBox="0 0 64 64" className="size-7 shrink-0" aria-hidden>
      <rect width="64" height="64" rx="14" className="fill-foreground" />
      <path d="M17 44c10 5 25 2 32-10 3-5 3-11 2-15l-4 1c1 12-9 22-22 21-4 0-7-1-9-2z" fill="#ffd93b" />
      <path d="M47 16l3-6 3 1-2 6z" fill="#c79a2a" />
    </svg>
  );
}

export function SimulatorBadge() {
  return (
    <Badge
      className="border-amber-500/40 bg-amber-100 text-amber-950 dark:bg-amber-400/15 dark:text-amber-200"
      title="Images come from kie-sim, a local stand-in for KIE: free, offline, drawn shapes"
    >
      <FlaskConicalIcon className="size-3" aria-hidden />
      {/* The word yields to the header's links on the narrowest phones; the icon and its title stay. */}
      <span className="max-[400px]:sr-only">Simulator</span>
    </Badge>
  );
}

/** The header of every signed-in page (DESIGN.md §10). */
export function SiteHeader({ me, supabase }: { me: Me; supabase?: SupabasePublicConfig }) {
  return (
    <header className="sticky top-0 z-40 border-b bg-background/90 backdrop-blur supports-[backdrop-filter]:bg-background/75">
      <div className="mx-auto flex h-14 max-w-6xl items-center gap-2 px-3 sm:gap-3 sm:px-6">
        <Link href="/" className="flex items-center gap-2 rounded-md font-semibold tracking-tight">
          <Logo />
          <span className="max-[420px]:sr-only">Nano Banana Studio</span>
        </Link>
        {me.kie === "simulator" && <SimulatorBadge />}
        <nav aria-label="Account" className="ml-auto flex items-center gap-0.5 sm:gap-2">
          <CreditsBalance initial={me} />
          <Link
            href="/history"
            className="inline-flex h-9 items-center gap-2 rounded-md px-2 text-sm font-medium hover:bg-accent sm:px-2.5"
          >
            <HistoryIcon className="size-4" aria-hidden />
            <span className="max-sm:sr-only">History</span>
          </Link>
          <Link
            href="/keys"
            className="inline-flex h-9 items-center gap-2 rounded-md px-2 text-sm font-medium hover:bg-accent sm:px-2.5"
          >
            <KeyRoundIcon className="size-4" aria-hidden />
            <span className="max-sm:sr-only">API keys</span>
          </Link>
          <ThemeToggle />
          <SignOutButton supabase={supabase} />
        </nav>
      </div>
    </header>
  );
}
