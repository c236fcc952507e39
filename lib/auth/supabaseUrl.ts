/**
 * The Supabase project URL (SUPABASE_URL): checked once here, for config.ts at start-up and for the
 * authenticator, and the URLs derived from it. It carries the signing keys (JWKS), so it must be
 * https, or plain http only on this machine.
 */
import { AuthConfigurationError } from "./errors";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** What is wrong with the URL ("is not a URL", "must be https …"), or undefined when it will do. */
export function supabaseUrlProblem(supabaseUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(supabaseUrl);
  } catch {
    return "is not a URL";
  }
  const local = url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !local) return "must be https (plain http only for localhost)";
  return undefined;
}

/** The project URL, checked, without a trailing slash. */
export function checkedSupabaseUrl(supabaseUrl: string): string {
  const problem = supabaseUrlProblem(supabaseUrl);
  if (problem) throw new AuthConfigurationError(`supabaseUrl ${problem}.`);
  return new URL(supabaseUrl).href.replace(/\/+$/, "");
}

/** The `iss` of the project's access tokens. */
export function supabaseIssuer(supabaseUrl: string): string {
  return `${checkedSupabaseUrl(supabaseUrl)}/auth/v1`;
}

export function jwksUrlOf(supabaseUrl: string): URL {
  return new URL(`${checkedSupabaseUrl(supabaseUrl)}/auth/v1/.well-known/jwks.json`);
}
