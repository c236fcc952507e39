import type { SQL } from "drizzle-orm";
import type { DbExecutor } from "./client";

/**
 * Runs raw SQL and returns its rows. Both drivers answer `execute` with `{ rows }` (pg's
 * QueryResult, PGlite's Results); the shared drizzle type cannot say so, hence this one cast.
 * Column names come back as written in the SQL (snake_case unless aliased).
 */
export async function queryRows<Row extends Record<string, unknown>>(
  db: DbExecutor,
  query: SQL,
): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as { rows: Row[] };
  return result.rows;
}
