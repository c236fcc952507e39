/** What one bench run measures, and how each measurement is reported (target, baseline). */
import { HISTORY_USERS, type HistoryBench, type HistoryLoad, THUMBNAILS_PER_PAGE } from "./images";
import type { Figure } from "./report";

export function newMeasurements() {
  return {
    readsCb: [] as number[],
    readsNoCb: [] as number[],
    ttvNoCb: [] as number[],
    ttvCb: [] as number[],
    ttvWait: [] as number[],
    waitSupported: true,
    baseReads: [] as number[],
    baseTtv: [] as number[],
    fanReads: [] as number[],
    fanMaxPerSecond: [] as number[],
    fanRequests: [] as number[],
    sharedReads: [] as number[],
    bare: [] as number[],
    credits: [] as number[],
    overhead: [] as number[],
    syncLatency: [] as number[],
    throughput: [] as number[],
    cpuPerCreate: [] as number[],
    cpuShare: [] as number[],
    burstP99: [] as number[],
    burstAccepted: [] as number[],
    twoAccepted: [] as number[],
    twoBalance: [] as number[],
    uploadGrowth: [] as number[],
    uploadStatus: [] as number[],
    notes: [] as string[],
  };
}

export type Measurements = ReturnType<typeof newMeasurements>;

export const describeStatuses = (statuses: Record<number, number>) =>
  Object.entries(statuses)
    .map(([status, count]) => `${count} × ${status}`)
    .join(", ");

export function figuresOf(f: Measurements, problems: number): Figure[] {
  return [
    {
      label: "KIE status reads per 10 s job, callbacks on",
      unit: "reads",
      runs: f.readsCb,
      target: { op: "≤", value: 1.2 },
      baseline: { label: "fixed 500 ms poller", runs: f.baseReads },
    },
    {
      label: "KIE status reads per 10 s job, no callbacks",
      unit: "reads",
      runs: f.readsNoCb,
      target: { op: "≤", value: 6 },
      baseline: { label: "fixed 500 ms poller", runs: f.baseReads },
    },
    {
      label: "time-to-visible p50, no callbacks (client follows pollAfterMs)",
      unit: "ms",
      runs: f.ttvNoCb,
      target: { op: "≤", value: 2000 },
      baseline: { label: "fixed 500 ms poller", runs: f.baseTtv },
      digits: 0,
    },
    {
      label: "time-to-visible p50, callbacks on (client follows pollAfterMs)",
      unit: "ms",
      runs: f.ttvCb,
      baseline: { label: "fixed 500 ms poller", runs: f.baseTtv },
      digits: 0,
    },
    {
      label: "time-to-visible p50, `Prefer: wait` on the status route (callbacks on)",
      unit: "ms",
      runs: f.ttvWait,
      target: { op: "≤", value: 50 },
      baseline: { label: "fixed 500 ms poller", runs: f.baseTtv },
      digits: 0,
      caveat: f.waitSupported
        ? undefined
        : "✘ not served: no `Preference-Applied` (fell back to pollAfterMs)",
    },
    {
      label: "sync gateway overhead p50 (latency − KIE's own), callbacks on",
      unit: "ms",
      runs: f.overhead,
      target: { op: "≤", value: 10 },
      baseline: { label: "bare Next route (unknown `/api` path, JSON 404) p50", runs: f.bare },
    },
    { label: "sync generate latency p50 (KIE finishes at once)", unit: "ms", runs: f.syncLatency },
    {
      label: "async `POST /api/generate` throughput, 16 in flight, Postgres",
      unit: "req/s",
      runs: f.throughput,
      target: { op: "≥", value: 300 },
      digits: 0,
    },
    {
      label: "server CPU per async create during the throughput run (user + system)",
      unit: "ms",
      runs: f.cpuPerCreate,
    },
    {
      label: "server CPU used during the throughput run, in cores (of 2, shared)",
      unit: "cores",
      runs: f.cpuShare,
      digits: 2,
    },
    {
      label: "200 concurrent creates on a balance of 100: p99 latency",
      unit: "ms",
      runs: f.burstP99,
      target: { op: "≤", value: 1000 },
      digits: 0,
    },
    {
      label: "200 concurrent creates on a balance of 100: accepted",
      unit: "",
      runs: f.burstAccepted,
      target: { op: "=", value: 100 },
      digits: 0,
    },
    {
      label: "`GET /api/credits` p50 (one at a time)",
      unit: "ms",
      runs: f.credits,
      target: { op: "≤", value: 2 },
      baseline: { label: "bare Next route p50", runs: f.bare },
      digits: 2,
    },
    {
      label: "50 clients on one 10 s job (no callbacks): KIE reads for the job",
      unit: "reads",
      runs: f.fanReads,
      baseline: { label: "one client per job", runs: f.readsNoCb },
    },
    {
      label: "50 clients on one 10 s job: most KIE reads in any 1 s",
      unit: "reads",
      runs: f.fanMaxPerSecond,
      target: { op: "≤", value: 1 },
      digits: 0,
    },
    {
      label: "50 clients on one 10 s job: client status requests",
      unit: "req",
      runs: f.fanRequests,
      digits: 0,
    },
    {
      label: "uploads, one request with 5 × ~10 MiB files: peak server RSS growth",
      unit: "MiB",
      runs: f.uploadGrowth,
      target: { op: "≤", value: 75 },
    },
    {
      label: "two instances, one Postgres: 100 concurrent creates on a balance of 50, accepted",
      unit: "",
      runs: f.twoAccepted,
      target: { op: "=", value: 50 },
      digits: 0,
    },
    {
      label: "two instances, one Postgres: balance afterwards (no overdraft)",
      unit: "",
      runs: f.twoBalance,
      target: { op: "=", value: 0 },
      digits: 0,
    },
    {
      label: "two instances, one Postgres: KIE reads for a 10 s job, 10 clients",
      unit: "reads",
      runs: f.sharedReads,
      baseline: { label: "one client, one instance", runs: f.readsNoCb },
    },
    {
      label: "ledger audit after the bench (both databases): problems",
      unit: "",
      runs: [problems],
      target: { op: "=", value: 0 },
      digits: 0,
    },
  ];
}

/** The rows of docs/BENCHMARKS.md for the history pages (one value per run). */
export function historyFigures(h: HistoryBench): Figure[] {
  const of = (loads: HistoryLoad[], pick: (l: HistoryLoad) => number | undefined) =>
    loads.map((l) => pick(l) ?? Number.NaN);
  const bare = { label: "bare route (25 requests a page) p95", runs: of(h.bare, (l) => l.thumbP95Ms) };
  return [
    {
      label: "history page, 50 users at once, local store: thumbnail p95 (24 a page)",
      unit: "ms",
      runs: of(h.local, (l) => l.thumbP95Ms),
      target: { op: "≤", value: 100 },
      baseline: bare,
      digits: 0,
    },
    {
      label: "history page, 50 users at once, local store: thumbnail p50",
      unit: "ms",
      runs: of(h.local, (l) => l.thumbP50Ms),
      baseline: { label: "bare route p50", runs: of(h.bare, (l) => l.thumbP50Ms) },
      digits: 0,
    },
    {
      label: "history page, 50 users at once, local store: whole page p95 (list + 24 thumbnails)",
      unit: "ms",
      runs: of(h.local, (l) => l.pageP95Ms),
      baseline: { label: "bare route, 25 requests", runs: of(h.bare, (l) => l.pageP95Ms) },
      digits: 0,
    },
    {
      label: "history page, local store: server CPU per request (list and thumbnails)",
      unit: "ms",
      runs: of(h.local, (l) => l.cpuMsPerRequest),
      baseline: { label: "bare route", runs: of(h.bare, (l) => l.cpuMsPerRequest) },
      digits: 2,
    },
    {
      label: "history page, 50 users at once, S3: the app's 302 p95 (bytes from the bucket)",
      unit: "ms",
      runs: of(h.s3, (l) => l.thumbP95Ms),
      baseline: bare,
      digits: 0,
    },
    {
      label: "history page, 50 users at once, S3: thumbnail p95 with the redirect followed (s3rver)",
      unit: "ms",
      runs: of(h.s3, (l) => l.followedP95Ms),
      digits: 0,
    },
    {
      label: "history page, S3 redirect: server CPU per request (list and 302s)",
      unit: "ms",
      runs: of(h.s3, (l) => l.cpuMsPerRequest),
      baseline: { label: "bare route", runs: of(h.bare, (l) => l.cpuMsPerRequest) },
      digits: 2,
    },
  ];
}

export function describeHistoryBench(h: HistoryBench): string {
  const statuses = (loads: HistoryLoad[]) =>
    loads
      .map((l) =>
        Object.entries(l.statuses)
          .map(([s, n]) => `${n} × ${s}`)
          .join(", "),
      )
      .join("; ");
  return (
    `history pages: ${HISTORY_USERS} users × (list + ${THUMBNAILS_PER_PAGE} thumbnails of ${(h.thumbBytes / 1024).toFixed(1)} KiB), ` +
    `6 connections a user; local answered ${statuses(h.local)}; S3 answered ${statuses(h.s3)} (302s, then the bucket's 200s)`
  );
}
