import { readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ensureAccount } from "@/lib/credits";
import {
  type Database,
  defaultMigrationsFolder,
  generations,
  MIGRATIONS_SCHEMA,
  MIGRATIONS_TABLE,
  openDatabase,
  queryRows,
} from "@/lib/db";
import {
  createEmptyPostgresDatabase,
  describeEachDatabase,
  TEST_DATABASE_URL,
} from "@/tests/helpers/database";

const TABLES = ["credit_accounts", "credit_ledger", "generations", "idempotency_keys", "users"];

const journal = JSON.parse(
  readFileSync(path.join(defaultMigrationsFolder(), "meta", "_journal.json"), "utf8"),
) as { entries: unknown[] };

/** Everything a migration could change in our schema, as comparable text. */
async function schemaFingerprint(database: Database): Promise<string[]> {
  const rows = await queryRows<{ item: string }>(
    database.db,
    sql`
      SELECT format('column %s.%s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull) AS item
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'nano_banana' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT format('constraint %s %s', con.conname, pg_get_constraintdef(con.oid))
      FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = 'nano_banana'
      UNION ALL
      SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'nano_banana'
      UNION ALL
      SELECT format('trigger %s', tgname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'nano_banana' AND NOT t.tgisinternal`,
  );
  return rows.map((r) => r.item).sort();
}

async function appliedMigrations(database: Database): Promise<number> {
  const [row] = await queryRows<{ count: number }>(
    database.db,
    sql`SELECT count(*)::int AS count FROM ${sql.identifier(MIGRATIONS_SCHEMA)}.${sql.identifier(MIGRATIONS_TABLE)}`,
  );
  return row!.count;
}

describeEachDatabase("database schema", (getDb, variant) => {
  it("answers a ping", async () => {
    expect(await getDb().ping()).toBe(true);
  });

  it("keeps every table out of public, with row level security on and no policies", async () => {
    const rows = await queryRows<{ table: string; schema: string; rls: boolean; policies: number }>(
      getDb().db,
      sql`
        SELECT c.relname AS table, n.nspname AS schema, c.relrowsecurity AS rls,
               (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relname IN (${sql.join(
          TABLES.map((t) => sql`${t}`),
          sql`, `,
        )}) ORDER BY c.relname`,
    );
    expect(rows).toEqual(TABLES.map((table) => ({ table, schema: "nano_banana", rls: true, policies: 0 })));
  });

  it("records every migration, and running them again changes nothing", async () => {
    const database = getDb();
    expect(await appliedMigrations(database)).toBe(journal.entries.length);
    const before = await schemaFingerprint(database);
    expect(before.length).toBeGreaterThan(50);

    // A second start-up on the same database (its own connection, same migrations).
    const url = variant.databaseUrl();
    if (database.kind === "postgres" && url) {
      const again = await openDatabase({ databaseUrl: url, maxConnections: 2 });
      await again.close();
    } else if (database.kind === "pglite") {
      const { migratePgliteDatabase } = await import("@/lib/db/migrate");
      await migratePgliteDatabase(database.client, defaultMigrationsFolder());
    }
    expect(await appliedMigrations(database)).toBe(journal.entries.length);
    expect(await schemaFingerprint(database)).toEqual(before);
  });

  it("keeps the credit ledger append-only", async () => {
    const { db } = getDb();
    await ensureAccount(db, "u1", { initialCredits: 5 });
    await expect(db.execute(sql`UPDATE nano_banana.credit_ledger SET amount = 500`)).rejects.toThrow();
    await expect(db.execute(sql`DELETE FROM nano_banana.credit_ledger`)).rejects.toThrow();
    const [row] = await queryRows<{ amount: number }>(db, sql`SELECT amount FROM nano_banana.credit_ledger`);
    expect(row?.amount).toBe(5);
  });

  it("refuses a finished job without settled_at and a negative balance", async () => {
    const { db } = getDb();
    await ensureAccount(db, "u1", { initialCredits: 1 });
    await expect(
      db.insert(generations).values({
        userId: "u1",
        type: "text_to_image",
        model: "m",
        prompt: "p",
        cost: 1,
        status: "succeeded",
      }),
    ).rejects.toThrow();
    await expect(
      db.execute(sql`UPDATE nano_banana.credit_accounts SET balance = -1 WHERE user_id = 'u1'`),
    ).rejects.toThrow();
  });
});

describe.skipIf(!TEST_DATABASE_URL)(
  `migrations on Postgres${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    it("lets several instances start at once on an empty database", async () => {
      const empty = await createEmptyPostgresDatabase();
      try {
        const instances = await Promise.all(
          Array.from({ length: 4 }, () => openDatabase({ databaseUrl: empty.url, maxConnections: 2 })),
        );
        expect(await appliedMigrations(instances[0]!)).toBe(journal.entries.length);
        await Promise.all(instances.map((instance) => instance.close()));
      } finally {
        await empty.drop();
      }
    });

    it("names the database problem without leaking the connection string's password", async () => {
      const url = new URL(TEST_DATABASE_URL!);
      url.password = "s3cret-value";
      url.pathname = "/nb_test_does_not_exist";
      const error = await openDatabase({ databaseUrl: url.toString() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/Could not open the Postgres database/);
      expect((error as Error).message).not.toContain("s3cret-value");
    });
  },
);
