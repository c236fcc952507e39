import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getPageSession } from "@/app/_lib/session";
import { DevSignInForm } from "@/components/auth/dev-sign-in-form";
import { SupabaseSignInForm } from "@/components/auth/supabase-sign-in-form";
import { Logo, SimulatorBadge } from "@/components/header/site-header";
import { ThemeToggle } from "@/components/header/theme-toggle";
import { getApp } from "@/lib/app";
import { safeNextPath } from "@/lib/ui/next-path";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const next = safeNextPath((await searchParams).next);
  if (await getPageSession()) redirect(next);
  const app = await getApp();
  const { auth } = app.config;
  const supabase =
    auth.mode === "supabase" && auth.supabaseUrl && auth.supabaseAnonKey
      ? { url: auth.supabaseUrl, anonKey: auth.supabaseAnonKey }
      : undefined;

  return (
    <div className="flex min-h-dvh flex-col">
      <div className="flex justify-end p-3">
        <ThemeToggle />
      </div>
      <main className="flex flex-1 items-start justify-center px-4 pt-[8vh] pb-16">
        <div className="w-full max-w-sm">
          <div className="mb-8 flex flex-col items-center gap-3 text-center">
            <Logo />
            <h1 className="text-xl font-semibold tracking-tight text-balance sm:text-2xl">
              Sign in to Nano Banana Studio
            </h1>
            <p className="text-sm text-balance text-muted-foreground">
              Write a prompt, add a photo or two, and get the image.
            </p>
            {app.kieMode === "simulator" && <SimulatorBadge />}
          </div>
          <div className="rounded-xl border bg-card p-6 shadow-sm">
            {auth.mode === "dev" ? (
              <DevSignInForm next={next} />
            ) : supabase ? (
              <SupabaseSignInForm next={next} supabase={supabase} />
            ) : (
              <p role="alert" className="text-sm">
                Sign-in is not configured on this server: it needs SUPABASE_URL and SUPABASE_ANON_KEY.
              </p>
            )}
          </div>
          {auth.mode === "dev" && (
            <p className="mt-4 text-center text-xs text-muted-foreground">
              Local dev sign-in: any email works, no password. New accounts start with{" "}
              {app.config.credits.initial} free credits.
            </p>
          )}
        </div>
      </main>
    </div>
  );
}
