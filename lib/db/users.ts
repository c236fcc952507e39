import { eq, or, sql } from "drizzle-orm";
import type { DbExecutor } from "./client";
import { type User, users } from "./schema";

/**
 * Users whose id is `idOrEmail` or whose email matches it ignoring case. More than one row means
 * the email is shared by several auth subjects; callers should then ask for the id.
 */
export async function findUsersByIdOrEmail(db: DbExecutor, idOrEmail: string): Promise<User[]> {
  return db
    .select()
    .from(users)
    .where(or(eq(users.id, idOrEmail), eq(sql`lower(${users.email})`, idOrEmail.toLowerCase())))
    .orderBy(users.createdAt, users.id);
}
