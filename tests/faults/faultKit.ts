/**
 * Shared by the fault scenarios: a Postgres database per file, the app in-process (real route
 * handlers, real kie-sim, callbacks over loopback HTTP), and the ledger audit every scenario ends
 * with — once every job it started has settled, the ledger must balance with nothing held.
 */
import { expect } from "vitest";
import { auditLedger, describeAudit } from "@/lib/credits";
import type { Database } from "@/lib/db";
import { generations } from "@/lib/db";
import type { Harness } from "../helpers/appHarness";
import { eventually } from "../helpers/probes";

export { type Harness, startHarness } from "../helpers/appHarness";
export { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "../helpers/database";
export { creditsOf, eventually, pause } from "../helpers/probes";

/** Waits (bounded) until no job is open, then requires a balanced ledger. */
export async function expectSettledAndBalanced(
  database: Database,
  { attempts = 400, intervalMs = 50 }: { attempts?: number; intervalMs?: number } = {},
): Promise<void> {
  await eventually(
    "every job to settle",
    async () =>
      (await database.db.select({ status: generations.status }).from(generations)).map((r) => r.status),
    (statuses) => statuses.every((s) => s !== "pending" && s !== "processing"),
    { attempts, intervalMs },
  );
  const audit = await auditLedger(database.db);
  expect(audit.balanced, describeAudit(audit)).toBe(true);
  expect(audit.openJobs).toBe(0);
}

/** Polls each task through the status route (as its owner) until it leaves pending/processing. */
export async function pollUntilFinal(
  h: Harness,
  token: string,
  taskIds: string[],
  attempts = 200,
): Promise<{ status: string; error?: { code: string } }[]> {
  const finals = [];
  for (const taskId of taskIds) {
    finals.push(
      await eventually(
        `task ${taskId} to finish`,
        async () => (await h.fetch(`/api/generate/${taskId}`, { token })).json(),
        (body: { status: string }) => body.status !== "pending" && body.status !== "processing",
        { attempts, intervalMs: 100 },
      ),
    );
  }
  return finals;
}

/** The ledger balances now, open jobs allowed (they hold their reserve). */
export async function expectBalanced(database: Database): Promise<void> {
  const audit = await auditLedger(database.db);
  expect(audit.balanced, describeAudit(audit)).toBe(true);
}

/** The job's image as its owner loads it (our signed link, or the store's redirect target). */
export async function expectImageLoads(h: Harness, token: string, imageUrl: string): Promise<void> {
  const url = new URL(imageUrl, "http://localhost");
  const response =
    url.origin === "http://localhost"
      ? await h.fetch(`${url.pathname}${url.search}`, { token })
      : await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, imageUrl).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^image\//);
  expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
}

export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
