/**
 * One code path for both databases (DESIGN.md §2): embedded PGlite under DATA_DIR when no
 * DATABASE_URL is given, a `pg` pool otherwise. Both expose the same drizzle type, and both are
 * migrated before openDatabase resolves.
 */
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import type { Logger } from "@/lib/observability/logger";
import { DatabaseError } from "./errors";
import { acquireDataDirLock, type DataDirLock } from "./lock";
import { defaultMigrationsFolder, migratePgliteDatabase, migratePostgresDatabase } from "./migrate";
import { removeOthersAccess } from "./privateFiles";
import * as schema from "./schema";

export type DatabaseSchema = typeof schema;
/** The drizzle handle every module uses, whichever database is underneath. */
export type AppDatabase = PgDatabase<PgQueryResultHKT, DatabaseSchema>;
export type AppTransaction = PgTransaction<
  PgQueryResultHKT,
  DatabaseSchema,
  ExtractTablesWithRelations<DatabaseSchema>
>;
/** Anything SQL can run on: the database or an open transaction (functions accept both). */
export type DbExecutor = AppDatabase | AppTransaction;

export interface OpenDatabaseOptions {
  /** Postgres connection string; when set, PGlite is not used. */
  databaseUrl?: string;
  /** PGlite: folder for the database files (`<dataDir>/pglite`) and the lock file. */
  dataDir?: string;
  /** PGlite in memory (tests); ignored when databaseUrl is set. */
  inMemory?: boolean;
  logger?: Logger;
  /** Postgres pool size; defaults to 10. */
  maxConnections?: number;
  /** Defaults to lib/db/migrations. */
  migrationsFolder?: string;
}

interface DatabaseBase {
  readonly db: AppDatabase;
  /** True when a trivial query succeeds (health checks). */
  ping(): Promise<boolean>;
  /** Closes connections and, for PGlite, releases the data folder. Safe to call twice. */
  close(): Promise<void>;
}

export interface PgliteDatabaseHandle extends DatabaseBase {
  readonly kind: "pglite";
  /** The PGlite instance, e.g. for `client.listen()` (LISTEN/NOTIFY within this process). */
  readonly client: PGlite;
  /** Undefined in memory. */
  readonly dataDir?: string;
}

export interface PostgresDatabaseHandle extends DatabaseBase {
  readonly kind: "postgres";
  /** The pool, e.g. to check out a dedicated connection for LISTEN. */
  readonly pool: pg.Pool;
}

export type Database = PgliteDatabaseHandle | PostgresDatabaseHandle;

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const migrationsFolder = options.migrationsFolder ?? defaultMigrationsFolder();
  if (options.databaseUrl) return openPostgres(options.databaseUrl, migrationsFolder, options);
  if (options.inMemory) return openPglite(undefined, migrationsFolder, options);
  if (!options.dataDir) {
    throw new DatabaseError("openDatabase needs databaseUrl, dataDir or inMemory.");
  }
  return openPglite(path.resolve(options.dataDir), migrationsFolder, options);
}

async function openPglite(
  dataDir: string | undefined,
  migrationsFolder: string,
  options: OpenDatabaseOptions,
): Promise<PgliteDatabaseHandle> {
  const started = Date.now();
  const lock: DataDirLock | undefined = dataDir
    ? await acquireDataDirLock(dataDir, options.logger)
    : undefined;
  let client: PGlite | undefined;
  try {
    client = dataDir ? await PGlite.create(path.join(dataDir, "pglite")) : await PGlite.create();
    await migratePgliteDatabase(client, migrationsFolder);
    if (dataDir) await removeOthersAccess(path.join(dataDir, "pglite"));
  } catch (error) {
    await client?.close().catch(() => {});
    await lock?.release();
    throw new DatabaseError(
      `Could not open the embedded database${dataDir ? ` in "${dataDir}"` : ""}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  options.logger?.info(
    { database: "pglite", dataDir: dataDir ?? "(memory)", elapsedMs: Date.now() - started },
    "database ready",
  );
  const pglite = client;
  let closing: Promise<void> | undefined;
  return {
    kind: "pglite",
    client: pglite,
    dataDir,
    db: drizzlePglite({ client: pglite, schema }),
    ping: () => pingWith(() => pglite.query("SELECT 1")),
    close: () => {
      closing ??= (async () => {
        try {
          await pglite.close();
          if (dataDir) await removeOthersAccess(path.join(dataDir, "pglite"));
        } finally {
          await lock?.release();
        }
      })();
      return closing;
    },
  };
}

async function openPostgres(
  databaseUrl: string,
  migrationsFolder: string,
  options: OpenDatabaseOptions,
): Promise<PostgresDatabaseHandle> {
  const started = Date.now();
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on("error", (error) => options.logger?.warn({ err: error }, "idle database connection failed"));
  // The pool only listens while a connection is idle: one that dies while checked out (inside a
  // transaction) emits "error" with no listener, an uncaught exception. Its query already fails.
  pool.on("connect", (client) =>
    client.on("error", (error) => options.logger?.warn({ err: error }, "database connection lost")),
  );
  try {
    await migratePostgresDatabase(pool, migrationsFolder, options.logger);
  } catch (error) {
    await pool.end().catch(() => {});
    // The connection string may hold a password: never include it in the message.
    throw new DatabaseError(`Could not open the Postgres database (DATABASE_URL): ${messageOf(error)}`, {
      cause: error,
    });
  }
  options.logger?.info({ database: "postgres", elapsedMs: Date.now() - started }, "database ready");
  let closing: Promise<void> | undefined;
  return {
    kind: "postgres",
    pool,
    db: drizzleNodePg({ client: pool, schema }),
    ping: () => pingWith(() => pool.query("SELECT 1")),
    close: () => {
      closing ??= pool.end();
      return closing;
    },
  };
}

async function pingWith(query: () => Promise<unknown>): Promise<boolean> {
  try {
    await query();
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return cause && !message.includes(cause.message) ? `${message} (${cause.message})` : message;
}
