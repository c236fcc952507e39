/**
 * Personal API keys (DESIGN.md §3 "API keys"): `nbk_` + 32 random bytes in base64url. The prefix
 * is fixed so secret scanners can recognise a leaked key. Only the key's SHA-256 is stored; a key
 * authenticates as its owner (never as an admin) until it is revoked.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "./errors";
import type { AuthUser } from "./user";

export const API_KEY_PREFIX = "nbk_";
/** `nbk_` and 43 base64url characters (32 bytes). */
export const API_KEY_PATTERN = /^nbk_[A-Za-z0-9_-]{43}$/;
/** Every key in a text (a log line): for `replace`. */
export const API_KEY_IN_TEXT = /nbk_[A-Za-z0-9_-]{43}/g;

/** Whether a text (a URL, percent-decoded or not) holds something shaped like a key. */
export function containsApiKey(text: string): boolean {
  return /nbk_[A-Za-z0-9_-]{43}/.test(text);
}
/** What the list shows of a key: the fixed prefix and 8 characters of the secret part. */
export const API_KEY_DISPLAY_LENGTH = API_KEY_PREFIX.length + 8;
/** `last_used_at` is written at most this often per key. */
export const LAST_USED_EVERY_MS = 60_000;

export interface NewApiKey {
  /** The key itself: shown once, never stored. */
  secret: string;
  keyHash: string;
  prefix: string;
}

export function generateApiKey(): NewApiKey {
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { secret, keyHash: hashApiKey(secret), prefix: secret.slice(0, API_KEY_DISPLAY_LENGTH) };
}

export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** True when a bearer token is meant as an API key (then it is never tried as a JWT). */
export function isApiKeyToken(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** A key's row as authentication needs it (lib/db/apiKeys.ts). */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  email: string | null;
  keyHash: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Where keys are looked up (lib/auth imports no database; lib/compose.ts wires one). */
export interface ApiKeyStore {
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use (the store may skip it when one is recent). */
  touch(id: string): Promise<void>;
}

export interface ApiKeyVerifierOptions {
  store: ApiKeyStore;
  /** Called on every request a valid key makes (the per-key rate limit); its throw refuses it. */
  onUse?: (keyId: string) => Promise<void>;
  now?: () => number;
}

export type ApiKeyVerifier = (token: string) => Promise<AuthUser>;

export function createApiKeyVerifier(options: ApiKeyVerifierOptions): ApiKeyVerifier {
  const now = options.now ?? Date.now;
  return async (token) => {
    if (!API_KEY_PATTERN.test(token)) throw new UnauthorizedError("malformed_token");
    const keyHash = hashApiKey(token);
    // Found through a unique index on the hash: what a timing difference could reveal is a prefix
    // of a SHA-256, which says nothing of any key. The stored hash is still compared in constant time.
    const record = await options.store.findByHash(keyHash);
    if (!record || !sameHash(record.keyHash, keyHash)) throw new UnauthorizedError("invalid_token");
    if (record.revokedAt !== null) throw new UnauthorizedError("key_revoked");
    await options.onUse?.(record.id);
    const lastUsed = record.lastUsedAt?.getTime();
    if (lastUsed === undefined || now() - lastUsed >= LAST_USED_EVERY_MS)
      await options.store.touch(record.id);
    const user: AuthUser = { id: record.userId, isAdmin: false, apiKeyId: record.id };
    if (record.email) user.email = record.email;
    return user;
  };
}

function sameHash(stored: string, computed: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(computed);
  return a.length === b.length && timingSafeEqual(a, b);
}
