/**
 * Personal API keys in the database (DESIGN.md §3 "API keys"). Rows hold the key's SHA-256 only.
 * Every authentication reads the row by that hash (a unique index), so a revocation written by
 * one instance refuses the key on every instance from its next request on: there is no cache.
 */
import { and, asc, count, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { apiKeys, users } from "./schema";

/** What authentication needs of a key, found by its hash. */
export interface StoredApiKey {
  id: string;
  userId: string;
  email: string | null;
  keyHash: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What the owner sees of a key (never its hash). */
export interface ApiKeyListing {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const listing = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
};

export async function insertApiKey(
  db: DbExecutor,
  key: { userId: string; name: string; prefix: string; keyHash: string },
): Promise<ApiKeyListing> {
  const [row] = await db.insert(apiKeys).values(key).returning(listing);
  // INSERT … RETURNING returns its row or throws: this only narrows the type.
  if (!row) throw new Error("insert returned no row");
  return row;
}

/** The user's keys that still work, oldest first. */
export function listApiKeys(db: DbExecutor, userId: string): Promise<ApiKeyListing[]> {
  return db
    .select(listing)
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

export async function countActiveApiKeys(db: DbExecutor, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
  return row?.n ?? 0;
}

/**
 * Revokes one of the user's keys. False for an unknown id, a malformed one, or another user's
 * key: the caller answers all three alike (404), so ids cannot be probed.
 */
export async function revokeApiKey(db: DbExecutor, userId: string, id: string): Promise<boolean> {
  if (!UUID.test(id)) return false;
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

export async function findApiKeyByHash(db: DbExecutor, keyHash: string): Promise<StoredApiKey | undefined> {
  const [row] = await db
    .select({
      id: apiKeys.id,
      userId: apiKeys.userId,
      email: users.email,
      keyHash: apiKeys.keyHash,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyHash, keyHash))
    .limit(1);
  return row;
}

/** Records a use, unless one was recorded in the last `everyMs` (one write a minute, not one a request). */
export async function touchApiKey(db: DbExecutor, id: string, everyMs: number): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(apiKeys.id, id),
        or(
          isNull(apiKeys.lastUsedAt),
          lt(apiKeys.lastUsedAt, sql`now() - make_interval(secs => ${everyMs / 1000})`),
        ),
      ),
    );
}
