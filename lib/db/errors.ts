/** Errors from opening or preparing the database. */

import { brand } from "@/lib/brand";
export class DatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface DataDirLockOwner {
  pid: number;
  hostname: string;
  /** ISO time the owner took the lock. */
  lockedAt: string;
}

/**
 * Another live process holds the embedded database's data folder. PGlite has no locking of its
 * own and two processes on one folder silently corrupt it (STACK.md), so we refuse to open.
 */
export class DatabaseLockedError extends DatabaseError {
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    readonly owner: DataDirLockOwner,
  ) {
    super(
      `The embedded database in "${dataDir}" is in use by another process ` +
        `(pid ${owner.pid} on ${owner.hostname}, since ${owner.lockedAt}). ` +
        "PGlite allows only one process per data folder: stop that process first (for example the " +
        "running server), or set DATABASE_URL to use Postgres. " +
        `If you are sure no such process is running, delete "${lockFile}".`,
    );
  }
}

brand(DatabaseError, "db.DatabaseError");
brand(DatabaseLockedError, "db.DatabaseLockedError");
