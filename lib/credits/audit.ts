/**
 * The ledger audit (DESIGN.md §4), for operators (`npm run credits -- audit`) and the fault suite.
 * Two invariants, read from one consistent snapshot:
 *
 * 1. per account: initial + grants − captures − credits held by open jobs = balance;
 * 2. per job: its reserve matches its cost, and it has exactly one capture (succeeded) or one
 *    release (failed, timeout) once settled, none while open.
 *
 * Open jobs are not a problem (they hold their reserve); `openJobs` says how many there are, so a
 * caller that waited for every job to settle can require zero.
 */
import { sql } from "drizzle-orm";
import { creditAccounts, creditLedger, type DbExecutor, generations, queryRows } from "@/lib/db";

export type AuditProblemKind =
  | "balance_mismatch"
  | "ledger_without_account"
  | "missing_reserve"
  | "reserve_amount"
  | "open_job_settled"
  | "missing_settlement"
  | "wrong_settlement";

export interface AuditProblem {
  kind: AuditProblemKind;
  userId: string;
  generationId?: string;
  detail: string;
}

export interface LedgerAudit {
  balanced: boolean;
  accounts: number;
  jobs: number;
  openJobs: number;
  /** Credits reserved by jobs that are still open. */
  heldCredits: number;
  problems: AuditProblem[];
}

type AccountRow = {
  user_id: string;
  balance: number | null;
  grants: number;
  captures: number;
  held: number;
};

type JobRow = {
  id: string;
  user_id: string;
  status: string;
  cost: number;
  reserved: number | null;
  reserve_owner: string | null;
  captured: number | null;
  released: number | null;
};

/** Reads the whole ledger once; `maxProblems` bounds the report, not the checks. */
export async function auditLedger(
  db: DbExecutor,
  options: { maxProblems?: number } = {},
): Promise<LedgerAudit> {
  // One snapshot: a job created between two reads would look half-written.
  const [accounts, jobs] = await db.transaction(
    async (tx) => [await accountTotals(tx), await jobSettlements(tx)] as const,
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
  const problems = [...accounts.flatMap(checkAccount), ...jobs.flatMap(checkJob)];
  const open = jobs.filter((job) => isOpen(job.status));
  return {
    balanced: problems.length === 0,
    accounts: accounts.filter((a) => a.balance !== null).length,
    jobs: jobs.length,
    openJobs: open.length,
    heldCredits: open.reduce((sum, job) => sum + (job.reserved ?? 0), 0),
    problems: problems.slice(0, options.maxProblems ?? 1_000),
  };
}

function accountTotals(db: DbExecutor): Promise<AccountRow[]> {
  // Held = reserves of jobs with no settlement row yet (whatever the job's status says; the job
  // checks below report a status that disagrees).
  return queryRows<AccountRow>(
    db,
    sql`
      WITH totals AS (
        SELECT l.user_id,
          sum(l.amount) FILTER (WHERE l.kind = 'grant')::int AS grants,
          sum(l.amount) FILTER (WHERE l.kind = 'capture')::int AS captures,
          sum(l.amount) FILTER (
            WHERE l.kind = 'reserve' AND NOT EXISTS (
              SELECT 1 FROM ${creditLedger} s
              WHERE s.generation_id = l.generation_id AND s.kind IN ('capture', 'release'))
          )::int AS held
        FROM ${creditLedger} l
        GROUP BY l.user_id
      )
      SELECT coalesce(a.user_id, t.user_id) AS user_id, a.balance,
        coalesce(t.grants, 0) AS grants, coalesce(t.captures, 0) AS captures, coalesce(t.held, 0) AS held
      FROM ${creditAccounts} a
      FULL JOIN totals t ON t.user_id = a.user_id`,
  );
}

function jobSettlements(db: DbExecutor): Promise<JobRow[]> {
  const row = (kind: string, column: string) =>
    sql.raw(`(SELECT ${column} FROM nano_banana.credit_ledger
      WHERE generation_id = g.id AND kind = '${kind}')`);
  return queryRows<JobRow>(
    db,
    sql`
      SELECT g.id, g.user_id, g.status, g.cost,
        ${row("reserve", "amount")} AS reserved,
        ${row("reserve", "user_id")} AS reserve_owner,
        ${row("capture", "amount")} AS captured,
        ${row("release", "amount")} AS released
      FROM ${generations} g`,
  );
}

function checkAccount(row: AccountRow): AuditProblem[] {
  if (row.balance === null) {
    return [
      { kind: "ledger_without_account", userId: row.user_id, detail: "ledger rows but no credit account" },
    ];
  }
  const expected = row.grants - row.captures - row.held;
  if (expected === row.balance) return [];
  return [
    {
      kind: "balance_mismatch",
      userId: row.user_id,
      detail:
        `grants ${row.grants} − captures ${row.captures} − held ${row.held} = ${expected}, ` +
        `but the balance is ${row.balance}`,
    },
  ];
}

function checkJob(job: JobRow): AuditProblem[] {
  const at = (kind: AuditProblemKind, detail: string): AuditProblem[] => [
    { kind, userId: job.user_id, generationId: job.id, detail },
  ];
  if (job.reserved === null) return at("missing_reserve", `job (${job.status}) has no reserve`);
  if (job.reserved !== job.cost || job.reserve_owner !== job.user_id) {
    return at("reserve_amount", `reserve of ${job.reserved} for a job costing ${job.cost}`);
  }
  const settlements = (job.captured === null ? 0 : 1) + (job.released === null ? 0 : 1);
  if (isOpen(job.status)) {
    return settlements === 0 ? [] : at("open_job_settled", `job is ${job.status} but has a settlement`);
  }
  if (settlements === 0) return at("missing_settlement", `job is ${job.status} but its reserve is unsettled`);
  const expected = job.status === "succeeded" ? job.captured : job.released;
  if (settlements > 1 || expected !== job.reserved) {
    return at(
      "wrong_settlement",
      `job is ${job.status}: capture ${job.captured ?? "none"}, release ${job.released ?? "none"}, ` +
        `reserve ${job.reserved}`,
    );
  }
  return [];
}

const isOpen = (status: string) => status === "queued" || status === "pending" || status === "processing";

/** One line per problem, for the CLI and for test failure messages. */
export function describeAudit(audit: LedgerAudit): string {
  const summary =
    `${audit.accounts} accounts, ${audit.jobs} jobs (${audit.openJobs} open, holding ` +
    `${audit.heldCredits} credits)`;
  if (audit.balanced) return `Ledger balanced: ${summary}.`;
  return [
    `Ledger NOT balanced: ${audit.problems.length} problem(s) in ${summary}:`,
    ...audit.problems.map(
      (p) => `  ${p.kind}: user ${p.userId}${p.generationId ? ` job ${p.generationId}` : ""}: ${p.detail}`,
    ),
  ].join("\n");
}
