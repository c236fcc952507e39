/**
 * Test fixture, run as a child process: opens the embedded database in the folder given as the
 * first argument (so it holds the folder's lock, like a running server), creates the user given
 * as the second argument, prints "ready", and closes cleanly on SIGTERM.
 *   node --import tsx tests/helpers/hold-database.ts <dataDir> [userId]
 */
import { ensureAccount } from "@/lib/credits";
import { openDatabase } from "@/lib/db";

const [dataDir, userId] = process.argv.slice(2);
if (!dataDir) throw new Error("usage: hold-database.ts <dataDir> [userId]");
const database = await openDatabase({ dataDir });
if (userId) await ensureAccount(database.db, userId, { initialCredits: 7, email: `${userId}@example.com` });
process.once("SIGTERM", () => {
  void database.close().then(() => process.exit(0));
});
process.stdout.write("ready\n");
setInterval(() => {}, 60_000); // stay alive until told to stop
