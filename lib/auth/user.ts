/** The signed-in caller, as every route sees it. */
export interface AuthUser {
  /** The token's `sub`: Supabase's auth.users id (a UUID, lower-case), or the dev user's UUID. */
  id: string;
  email?: string;
  /** The email is in ADMIN_EMAILS (case-insensitive). */
  isAdmin: boolean;
  /** Set when a personal API key (`nbk_…`) authenticated the request: that key's id. */
  apiKeyId?: string;
  /** An OAuth access token's `client_id` (Supabase OAuth server): the app the user authorised. */
  clientId?: string;
}

/** Lower-case, trimmed, NFC: the form under which emails are compared and dev ids derived. */
export function normalizeEmail(email: string): string {
  return email.normalize("NFC").trim().toLowerCase();
}

export function isAdminEmail(email: string | undefined, adminEmails: readonly string[]): boolean {
  if (!email) return false;
  const normalized = normalizeEmail(email);
  return adminEmails.some((admin) => normalizeEmail(admin) === normalized);
}
