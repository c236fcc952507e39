/**
 * Options for @supabase/ssr's browser client. Its cookies default to no `Secure` flag, so over
 * https the session cookie (a bearer of the user's identity) could still be sent over plain http
 * to this host; on an https page it is written `Secure`. Pure, so the studio's first load does not
 * pull @supabase/ssr in (the sign-out button loads it on demand). During server rendering there is
 * no page location: nothing is written then.
 */
export function supabaseBrowserOptions(protocol: string | undefined = globalThis.location?.protocol): {
  cookieOptions: { secure: boolean };
} {
  return { cookieOptions: { secure: protocol === "https:" } };
}
