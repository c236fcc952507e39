/**
 * Isolated databases for tests, with the migrations applied.
 *
 *   import { describeEachDatabase } from "@/tests/helpers/database";
 *
 *   describeEachDatabase("credits", (getDb, variant) => {
 *     it("reserves", async () => {
 *       const { db } = getDb(); // a Database from lib/db, emptied before each test
 *       …
 *     });
 *   });
 *
 * The suite runs twice: on in-memory PGlite (always) and on Postgres when TEST_DATABASE_URL is
 * set (otherwise that variant shows up as skipped, "needs TEST_DATABASE_URL"). Each variant opens
 * one database per describe block (PGlite costs ~2–3 s to open) and truncates every table in the
 * nano_banana schema before each test. On Postgres every block gets a fresh database created
 * from TEST_DATABASE_URL (`nb_test_<random>`, dropped afterwards), so parallel test files never
 * share rows. `variant.databaseUrl()` gives that database's URL (e.g. for a child process).
 *
 * For finer control use createTestDatabase(kind) / createEmptyPostgresDatabase() directly.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe } from "vitest";
import { type Database, openDatabase } from "@/lib/db";

/** The server to create test databases on; unset → Postgres variants are skipped. */
export const TEST_DATABASE_URL: string | undefined = process.env.TEST_DATABASE_URL || undefined;

export type TestDatabaseKind = "pglite" | "postgres";
export const TEST_DATABASE_KINDS: readonly TestDatabaseKind[] = ["pglite", "postgres"];

export interface TestDatabase {
  readonly database: Database;
  /** Postgres only: the URL of this test's own database. */
  readonly databaseUrl?: string;
  /** Empties every table (keeps the schema). */
  truncate(): Promise<void>;
  /** Closes the database and, on Postgres, drops it. */
  dispose(): Promise<void>;
}

export interface DatabaseVariant {
  readonly kind: TestDatabaseKind;
  /** Postgres: the URL of the database the suite runs on (available once tests run). */
  databaseUrl(): string | undefined;
}

export interface DescribeEachDatabaseOptions {
  /**
   * The suite checks behaviour under concurrency. PGlite runs one query at a time, so there it
   * only proves the serial case: its title says so, and without TEST_DATABASE_URL a warning says
   * that the concurrent case was not run at all.
   */
  concurrency?: boolean;
}

export function describeEachDatabase(
  name: string,
  suite: (getDb: () => Database, variant: DatabaseVariant) => void,
  options: DescribeEachDatabaseOptions = {},
): void {
  if (options.concurrency && !TEST_DATABASE_URL) {
    console.warn(
      `"${name}": ran on PGlite only (serial, one query at a time); set TEST_DATABASE_URL to test it under real concurrency.`,
    );
  }
  for (const kind of TEST_DATABASE_KINDS) {
    const unavailable = kind === "postgres" && !TEST_DATABASE_URL;
    const serial =
      options.concurrency && kind === "pglite" ? " (serial: PGlite runs one query at a time)" : "";
    const title = unavailable
      ? `${name} [postgres] (needs TEST_DATABASE_URL${options.concurrency ? ": concurrency NOT tested" : ""})`
      : `${name} [${kind}]${serial}`;
    describe.skipIf(unavailable)(title, () => {
      let current: TestDatabase | undefined;
      beforeAll(async () => {
        current = await createTestDatabase(kind);
      });
      afterAll(async () => {
        await current?.dispose();
      });
      beforeEach(async () => {
        await current?.truncate();
      });
      const getDb = () => {
        if (!current) throw new Error(`the ${kind} test database is not open (called outside a test?)`);
        return current.database;
      };
      suite(getDb, { kind, databaseUrl: () => current?.databaseUrl });
    });
  }
}

export async function createTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  if (kind === "pglite") {
    const database = await openDatabase({ inMemory: true });
    return { database, truncate: () => truncateAll(database), dispose: () => database.close() };
  }
  const empty = await createEmptyPostgresDatabase();
  try {
    const database = await openDatabase({ databaseUrl: empty.url, maxConnections: 20 });
    return {
      database,
      databaseUrl: empty.url,
      truncate: () => truncateAll(database),
      dispose: async () => {
        await database.close();
        await empty.drop();
      },
    };
  } catch (error) {
    await empty.drop();
    throw error;
  }
}

/** A new, empty (unmigrated) database on the TEST_DATABASE_URL server. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
  const name = `nb_test_${randomBytes(6).toString("hex")}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function truncateAll(database: Database): Promise<void> {
  const run = async (query: string) =>
    database.kind === "pglite"
      ? (await database.client.query(query)).rows
      : (await database.pool.query(query)).rows;
  const tables = (await run(
    "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'nano_banana'",
  )) as { name: string }[];
  if (tables.length > 0) await run(`TRUNCATE ${tables.map((t) => t.name).join(", ")} CASCADE`);
}
