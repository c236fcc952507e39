/**
 * One watch for every running job of every tab of this app (issue 25): browsers allow about six
 * connections per host, so one 25 s long-poll per job per tab would soon block the page's other
 * requests. The tabs elect a leader (Web Locks); only the leader asks the server, in one request
 * for all the jobs any tab follows (`GET /api/generations?taskIds=…` with `Prefer: wait=25`,
 * DESIGN.md §3), and tells the others what it learned over a BroadcastChannel. When the leader
 * closes, the lock passes to another tab, which asks the tabs what they follow and goes on.
 * Without Web Locks or BroadcastChannel each tab is its own leader (still one request per tab).
 */
import { ApiProblem, readApi } from "./api";
import { abortableSleep } from "./jobs";
import { isRunning, type Job } from "./types";

const CHANNEL = "nb-job-watch";
const LOCK = "nb-job-watch-leader";
const WAIT_SECONDS = 25;

/** What the leader learned: each asked id with its job now, and the ids that are no job (deleted). */
interface Learned {
  jobs: [string, Job][];
  missing: string[];
  /** A refusal that ends the follow of these ids (401, 404 …), as an ApiProblem's fields. */
  problem?: { ids: string[]; code: string; message: string; status: number };
}

type Message =
  | { type: "want"; tab: string; ids: string[] }
  | { type: "bye"; tab: string }
  | { type: "hello" }
  | ({ type: "learned" } & Learned);

interface Follower {
  onUpdate: (job: Job) => void;
  settle: (outcome: { job: Job } | { error: unknown }) => void;
}

interface WatchPage {
  generations: Job[];
  notFound?: string[];
  remainingCredits?: number;
}

/** What the watch uses of the browser; injected in tests. */
export interface WatchDeps {
  fetchImpl: typeof fetch;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The tabs' channel; none: this tab is on its own (its own leader). */
  channel?: BroadcastChannel;
  /** Runs `lead` once this tab holds the leader's lock; none: at once. */
  elect?: (lead: () => Promise<never>) => void;
}

function browserDeps(): WatchDeps {
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : undefined;
  return {
    fetchImpl: (...args) => fetch(...args),
    sleep: abortableSleep,
    channel,
    // The callback's promise never settles: the lock is this tab's until it closes.
    elect: channel && navigator.locks ? (lead) => void navigator.locks.request(LOCK, lead) : undefined,
  };
}

export class SharedWatch {
  private readonly tab = Math.random().toString(36).slice(2);
  private readonly followers = new Map<string, Set<Follower>>();
  private readonly channel?: BroadcastChannel;
  private leading = false;
  /** The leader's record of what the other tabs follow. */
  private readonly wants = new Map<string, Set<string>>();
  /** The ids of the leader's request in flight; it is restarted when one is added. */
  private asking = new Set<string>();
  private restart?: AbortController;
  private wake?: () => void;

  constructor(private readonly deps: WatchDeps) {
    this.channel = deps.channel;
    this.channel?.addEventListener("message", (event: MessageEvent<Message>) => this.receive(event.data));
    if (deps.elect) deps.elect(() => this.lead());
    else void this.lead();
  }

  /** The tab is going away: the leader forgets what it followed. */
  close(): void {
    this.post({ type: "bye", tab: this.tab });
  }

  follow(taskId: string, signal: AbortSignal, onUpdate: (job: Job) => void): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      signal.throwIfAborted();
      const follower: Follower = {
        onUpdate,
        settle: (outcome) => {
          this.unfollow(taskId, follower);
          signal.removeEventListener("abort", onAbort);
          if ("job" in outcome) resolve(outcome.job);
          else reject(outcome.error);
        },
      };
      const onAbort = () => follower.settle({ error: signal.reason });
      signal.addEventListener("abort", onAbort, { once: true });
      const set = this.followers.get(taskId) ?? new Set();
      set.add(follower);
      this.followers.set(taskId, set);
      this.changed();
    });
  }

  private unfollow(taskId: string, follower: Follower): void {
    const set = this.followers.get(taskId);
    if (!set?.delete(follower) || set.size > 0) return;
    this.followers.delete(taskId);
    this.changed();
  }

  /** What this tab follows changed: the leader looks again, a follower tells the leader. */
  private changed(): void {
    if (!this.leading) {
      this.post({ type: "want", tab: this.tab, ids: [...this.followers.keys()] });
      return;
    }
    const ids = this.allIds();
    if (ids.some((id) => !this.asking.has(id))) this.restart?.abort();
    this.wake?.();
  }

  private receive(message: Message): void {
    if (message.type === "learned") this.deliver(message);
    else if (!this.leading) {
      if (message.type === "hello") this.changed();
    } else if (message.type === "want") {
      this.wants.set(message.tab, new Set(message.ids));
      this.changed();
    } else if (message.type === "bye") this.wants.delete(message.tab);
  }

  private deliver({ jobs, missing, problem }: Learned): void {
    for (const [id, job] of jobs) {
      for (const follower of [...(this.followers.get(id) ?? [])]) {
        follower.onUpdate(job);
        if (!isRunning(job.status)) follower.settle({ job });
      }
    }
    const gone = new ApiProblem("not_found", "", 404);
    for (const id of missing)
      for (const follower of [...(this.followers.get(id) ?? [])]) follower.settle({ error: gone });
    if (problem) {
      const error = new ApiProblem(problem.code, problem.message, problem.status);
      for (const id of problem.ids)
        for (const follower of [...(this.followers.get(id) ?? [])]) follower.settle({ error });
    }
  }

  private allIds(): string[] {
    const ids = new Set(this.followers.keys());
    for (const wanted of this.wants.values()) for (const id of wanted) ids.add(id);
    return [...ids];
  }

  /** Tells the other tabs, and this one, what the server said. */
  private learned(learned: Learned): void {
    // Ended and unknown jobs leave every tab's list, so a tab that went away leaves nothing behind.
    const done = new Set([
      ...learned.jobs.filter(([, job]) => !isRunning(job.status)).map(([id]) => id),
      ...learned.missing,
      ...(learned.problem?.ids ?? []),
    ]);
    for (const wanted of this.wants.values()) for (const id of done) wanted.delete(id);
    this.post({ type: "learned", ...learned });
    this.deliver(learned);
  }

  private async lead(): Promise<never> {
    this.leading = true;
    this.post({ type: "hello" });
    let failures = 0;
    for (;;) {
      const ids = this.allIds();
      if (ids.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const restart = new AbortController();
      this.restart = restart;
      this.asking = new Set(ids);
      try {
        const response = await this.deps.fetchImpl(
          `/api/generations?taskIds=${ids.map(encodeURIComponent).join(",")}`,
          {
            headers: { prefer: `wait=${WAIT_SECONDS}` },
            cache: "no-store",
            credentials: "same-origin",
            signal: restart.signal,
          },
        );
        const page = await readApi<WatchPage>(response);
        failures = 0;
        const missing = new Set(page.notFound ?? []);
        const found = ids.filter((id) => !missing.has(id));
        const jobs = page.generations.map((job, index): [string, Job] => [
          found[index] ?? job.taskId,
          { ...job, remainingCredits: page.remainingCredits },
        ]);
        this.learned({ jobs, missing: [...missing] });
        if (!response.headers.has("preference-applied")) await this.deps.sleep(1000, restart.signal);
      } catch (error) {
        if (restart.signal.aborted) continue; // a job was added: ask again with it
        const transient =
          !(error instanceof ApiProblem) || error.status >= 500 || error.status === 429 || error.status === 0;
        if (!transient) {
          const { code, message, status } = error as ApiProblem;
          this.learned({ jobs: [], missing: [], problem: { ids, code, message, status } });
          continue;
        }
        failures++;
        const retryMs =
          error instanceof ApiProblem && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
        await this.deps
          .sleep(retryMs || Math.min(10_000, 500 * 2 ** failures), restart.signal)
          .catch(() => undefined);
      } finally {
        this.asking = new Set();
      }
    }
  }

  private post(message: Message): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // A closed channel (the page is going away): nothing to tell.
    }
  }
}

let shared: SharedWatch | undefined;

/**
 * Follows a job until it ends, through the one watch this browser shares (same contract as
 * followJob: updates as they come, resolves with the ended job, rejects when the job is gone).
 */
export function followShared(
  taskId: string,
  options: { signal: AbortSignal; onUpdate: (job: Job) => void },
): Promise<Job> {
  if (!shared) {
    const watch = new SharedWatch(browserDeps());
    window.addEventListener("pagehide", () => watch.close());
    shared = watch;
  }
  return shared.follow(taskId, options.signal, options.onUpdate);
}
