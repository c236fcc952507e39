/**
 * drizzle-kit settings, used only to generate SQL migrations from lib/db/schema.ts:
 *   npx drizzle-kit generate --name <what_changed>
 * The app applies them itself at start-up (lib/db/client.ts), on PGlite and on Postgres alike.
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./lib/db/schema.ts",
  out: "./lib/db/migrations",
  schemaFilter: ["nano_banana"],
  // Must match MIGRATIONS_TABLE / MIGRATIONS_SCHEMA in lib/db/migrate.ts.
  migrations: { schema: "drizzle", table: "__nano_banana_migrations" },
  strict: true,
  verbose: true,
});
