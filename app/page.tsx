import { getApp } from "@/lib/app";

export const dynamic = "force-dynamic";

export default async function HomePage() {
  const app = await getApp();
  const simulator = app.kieMode === "simulator";
  return (
    <main>
      <header className="masthead">
        <h1>Nano Banana Studio</h1>
        {simulator && (
          <span className="badge" title="Images come from kie-sim, the local KIE simulator">
            simulator
          </span>
        )}
      </header>
      <p>Generate and edit images with KIE&apos;s Nano Banana model (Gemini 2.5 Flash Image).</p>
      <ul>
        <li>
          Sign in:{" "}
          {app.config.auth.mode === "dev" ? (
            <>
              dev sign-in — <code>POST /api/auth/dev {"{ email }"}</code>
            </>
          ) : (
            "with your Supabase account"
          )}
        </li>
        <li>
          Generate: <code>POST /api/generate</code>, then follow <code>GET /api/generate/:taskId</code>
        </li>
        <li>
          Service status: <a href="/api/health">/api/health</a>
        </li>
      </ul>
    </main>
  );
}
