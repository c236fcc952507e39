/** Small pieces the benchmarks share: statistics, tokens, HTTP clients, RSS sampling. */
import { readFileSync } from "node:fs";
import { SignJWT } from "jose";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: number[]) => percentile(values, 50);
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** A Supabase-format access token (HS256, SUPABASE_JWT_SECRET mode); `userId` must be a UUID. */
export async function mintToken(secret: string, userId: string): Promise<string> {
  return new SignJWT({ role: "authenticated", email: `bench-${userId.slice(0, 8)}@example.com` })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setAudience("authenticated")
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(new TextEncoder().encode(secret));
}

export interface Client {
  base: string;
  token: string;
}

export const authHeaders = (client: Client, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${client.token}`,
  ...extra,
});

/** Runs `fn` and returns its duration in ms (high resolution). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export async function postGenerate(
  client: Client,
  prompt: string,
  prefer: "respond-async" | "wait",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${client.base}/api/generate`, {
    method: "POST",
    headers: authHeaders(client, { "content-type": "application/json", prefer }),
    body: JSON.stringify({ prompt }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Resident memory of a process and its descendants, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim();
      for (const child of children ? children.split(/\s+/) : []) visit(Number(child));
    } catch {
      // the process ended
    }
  };
  visit(pid);
  return total;
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; 100 ticks/s). */
export function cpuMsOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Samples RSS every `everyMs` while `work` runs; returns the peak growth over the start. */
export async function peakRssGrowth<T>(
  pid: number,
  work: () => Promise<T>,
  everyMs = 5,
): Promise<{ growth: number; value: T }> {
  const before = rssOf(pid);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, everyMs);
  try {
    const value = await work();
    await sleep(200); // memory freed late (a body still referenced) counts too
    peak = Math.max(peak, rssOf(pid));
    return { growth: peak - before, value };
  } finally {
    clearInterval(timer);
  }
}

/** Runs `count` tasks with at most `concurrency` in flight. */
export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}
