/** Throwaway Postgres databases for the benchmarks (BENCH_DATABASE_URL, else TEST_DATABASE_URL). */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Database, openDatabase } from "@/lib/db";

export const ADMIN_URL = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new empty database on the admin server, opened (which migrates it); drop() removes it. */
export async function scratchDatabase(): Promise<{ url: string; database: Database; drop(): Promise<void> }> {
  if (!ADMIN_URL)
    throw new Error(
      "set BENCH_DATABASE_URL (or TEST_DATABASE_URL): a Postgres server for throwaway databases",
    );
  const name = `nb_bench_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), maxConnections: 2 });
  return {
    url: url.toString(),
    database,
    drop: async () => {
      await database.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
