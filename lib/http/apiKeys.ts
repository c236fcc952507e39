/**
 * Personal API keys over HTTP (DESIGN.md §3 "API keys"): the create body, and the use cases the
 * routes call. A key is shown once, in the create answer; the database keeps only its hash.
 */
import { z } from "zod";
import { type AuthUser, generateApiKey } from "@/lib/auth";
import {
  type ApiKeyListing,
  countActiveApiKeys,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
} from "@/lib/db/apiKeys";
import type { DbExecutor } from "@/lib/db/client";
import { ApiError } from "./errors";

/** Keys that work at once per user: a script leaking keys in a loop fills no table. */
export const MAX_ACTIVE_API_KEYS = 25;

export const createApiKeySchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, "Give the key a name.")
    .max(64, "A key's name is at most 64 characters.")
    // Postgres text cannot hold U+0000: refused here, not a failed insert (a 500) later.
    .refine((value) => !value.includes("\u0000"), "A key's name cannot contain a NUL character.")
    .meta({ description: "What the key is for (shown in the list)." }),
});

/** How a key is shown (never its hash, never the key after its creation). */
export function keyView(key: ApiKeyListing) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * Only the person, signed in to the studio, makes keys: not a key (a leaked key stays one key),
 * nor an OAuth client's access token (`client_id`) — a key it made would outlive the grant the
 * person can revoke, a credential of the third party's own.
 */
export function assertSignedInPerson(user: AuthUser, what: string): void {
  if (user.apiKeyId !== undefined) {
    throw new ApiError("forbidden", `An API key cannot ${what}; sign in to the studio to do it.`);
  }
  if (user.clientId !== undefined) {
    throw new ApiError("forbidden", `An app's access token cannot ${what}; sign in to the studio to do it.`);
  }
}

export async function createKey(db: DbExecutor, userId: string, name: string) {
  // A soft cap (two creates at once may both pass): it bounds the table, not money.
  if ((await countActiveApiKeys(db, userId)) >= MAX_ACTIVE_API_KEYS) {
    throw new ApiError(
      "invalid_request",
      `You have ${MAX_ACTIVE_API_KEYS} API keys, the most there can be; revoke one first.`,
    );
  }
  const { secret, keyHash, prefix } = generateApiKey();
  const key = await insertApiKey(db, { userId, name, prefix, keyHash });
  return { key: keyView(key), secret };
}

export async function listKeys(db: DbExecutor, userId: string) {
  return (await listApiKeys(db, userId)).map(keyView);
}

/** Someone else's key, an unknown id and a malformed one are the same 404: ids cannot be probed. */
export async function revokeKey(db: DbExecutor, userId: string, id: string): Promise<void> {
  if (!(await revokeApiKey(db, userId, id))) throw new ApiError("not_found", "No such API key.");
}
