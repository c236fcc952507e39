/**
 * Sessions ended by sign-out (DESIGN.md §6): recorded until their token would have expired, and
 * looked up on every authenticated request (by primary key), so a signed-out token is refused on
 * every instance sharing the database.
 */
import { eq, lt } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { revokedSessions } from "./schema";

/** Far above any verifier's clock tolerance (at most 300 s): a row outlives its token's last use. */
const PURGE_AFTER_MS = 15 * 60_000;

/** The store lib/auth's authenticator is given (lib/auth imports no database). */
export interface SessionRevocations {
  isRevoked(sessionId: string): Promise<boolean>;
  revoke(session: { sessionId: string; userId: string; expiresAt: Date }): Promise<void>;
}

export function createSessionRevocations(db: DbExecutor): SessionRevocations {
  return {
    async isRevoked(sessionId) {
      const rows = await db
        .select({ sessionId: revokedSessions.sessionId })
        .from(revokedSessions)
        .where(eq(revokedSessions.sessionId, sessionId))
        .limit(1);
      return rows.length > 0;
    },
    async revoke({ sessionId, userId, expiresAt }) {
      await db.insert(revokedSessions).values({ sessionId, userId, expiresAt }).onConflictDoNothing();
      // Rows past their token's expiry (and any clock tolerance) protect nothing: sign-outs clear them.
      await db
        .delete(revokedSessions)
        .where(lt(revokedSessions.expiresAt, new Date(Date.now() - PURGE_AFTER_MS)));
    },
  };
}
