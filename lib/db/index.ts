export {
  type AppDatabase,
  type AppTransaction,
  type Database,
  type DatabaseSchema,
  type DbExecutor,
  type OpenDatabaseOptions,
  openDatabase,
  type PgliteDatabaseHandle,
  type PostgresDatabaseHandle,
} from "./client";
export { DatabaseError, DatabaseLockedError, type DataDirLockOwner } from "./errors";
export { LOCK_FILE_NAME } from "./lock";
export { defaultMigrationsFolder, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from "./migrate";
export { queryRows } from "./rows";
export * from "./schema";
export { findUsersByIdOrEmail } from "./users";
