/**
 * Runs once when the Next.js server starts, before it answers any request (never at build time).
 * It validates the environment, opens the database (migrations), starts the embedded KIE
 * simulator when no KIE_API_KEY is set, and closes everything on SIGTERM/SIGINT.
 */
export async function register(): Promise<void> {
  // NEXT_RUNTIME is Next's own build-time switch, not app configuration.
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startServerRuntime } = await import("./lib/server-runtime");
  await startServerRuntime();
}
