/**
 * How a finished image reaches the client, and what it costs KIE: status reads per job and
 * time-to-visible (client sees the result − KIE finished the task), for clients that follow
 * `pollAfterMs`, clients that hold `Prefer: wait`, and the baseline: a fixed 500 ms poller
 * reading KIE directly.
 */
import type { FakeKie } from "./fakeKie";
import { authHeaders, type Client, mean, median, postGenerate, sleep } from "./util";

const FINAL = new Set(["succeeded", "failed", "timeout"]);

export interface DeliveryFigures {
  readsPerJob: number;
  ttvP50Ms: number;
  /** Prefer: wait only: whether the server held the request (Preference-Applied). */
  waitSupported?: boolean;
}

interface Seen {
  taskId: string;
  seenAt: number;
}

/** Polls GET /api/generate/:id, sleeping what each answer's pollAfterMs says. */
async function followPolling(client: Client, taskId: string, firstDelayMs: number): Promise<Seen> {
  let delay = firstDelayMs;
  for (let i = 0; i < 400; i++) {
    await sleep(delay);
    const response = await fetch(`${client.base}/api/generate/${taskId}`, { headers: authHeaders(client) });
    const body = (await response.json()) as { status: string; pollAfterMs?: number };
    if (FINAL.has(body.status)) return { taskId, seenAt: Date.now() };
    delay = body.pollAfterMs ?? 1_000;
  }
  throw new Error(`task ${taskId} did not finish`);
}

/** Holds GET /api/generate/:id with Prefer: wait=25 until the job is final. */
async function followWaiting(client: Client, taskId: string): Promise<Seen & { supported: boolean }> {
  let supported = true;
  for (let i = 0; i < 400; i++) {
    const response = await fetch(`${client.base}/api/generate/${taskId}`, {
      headers: authHeaders(client, { prefer: "wait=25" }),
    });
    const body = (await response.json()) as { status: string; pollAfterMs?: number };
    if (FINAL.has(body.status)) return { taskId, seenAt: Date.now(), supported };
    if (!response.headers.get("preference-applied")) {
      // Not held: fall back to the hint, or this loop would hammer the server.
      supported = false;
      await sleep(body.pollAfterMs ?? 1_000);
    }
  }
  throw new Error(`task ${taskId} did not finish`);
}

function figuresOf(kie: FakeKie, seen: Seen[]): DeliveryFigures {
  const tasks = seen.map((s) => {
    const task = kie.task(s.taskId);
    if (!task) throw new Error(`the fake KIE has no task ${s.taskId}`);
    return { reads: task.reads.length, ttv: s.seenAt - task.doneAt };
  });
  return { readsPerJob: mean(tasks.map((t) => t.reads)), ttvP50Ms: median(tasks.map((t) => t.ttv)) };
}

/** `jobs` jobs of `durationMs` each, started 100 ms apart, each followed by its own client. */
export async function deliveryThroughApp(
  kie: FakeKie,
  clients: Client[],
  options: { jobs: number; durationMs: number; mode: "poll" | "wait" },
): Promise<DeliveryFigures> {
  let supported = true;
  const seen = await Promise.all(
    Array.from({ length: options.jobs }, async (_, i) => {
      await sleep(i * 100);
      const client = clients[i % clients.length] as Client;
      const { status, body } = await postGenerate(
        client,
        `[bench:ms=${options.durationMs}] delivery ${i}`,
        "respond-async",
      );
      if (status !== 202) throw new Error(`POST /api/generate answered ${status}: ${JSON.stringify(body)}`);
      const taskId = body.taskId as string;
      if (options.mode === "poll") return followPolling(client, taskId, body.pollAfterMs as number);
      const result = await followWaiting(client, taskId);
      supported &&= result.supported;
      return result;
    }),
  );
  const figures = figuresOf(kie, seen);
  return options.mode === "wait" ? { ...figures, waitSupported: supported } : figures;
}

/** The baseline: createTask on KIE directly, then recordInfo every 500 ms until it is final. */
export async function fixedPoller(
  kie: FakeKie,
  options: { jobs: number; durationMs: number },
): Promise<DeliveryFigures> {
  const seen = await Promise.all(
    Array.from({ length: options.jobs }, async (_, i): Promise<Seen> => {
      await sleep(i * 100);
      const created = await fetch(`${kie.url}/api/v1/jobs/createTask`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer bench" },
        body: JSON.stringify({
          model: "google/nano-banana",
          input: { prompt: `[bench:ms=${options.durationMs}] baseline ${i}` },
        }),
      });
      const taskId = ((await created.json()) as { data: { taskId: string } }).data.taskId;
      for (let n = 0; n < 400; n++) {
        await sleep(500);
        const read = await fetch(`${kie.url}/api/v1/jobs/recordInfo?taskId=${taskId}`, {
          headers: { authorization: "Bearer bench" },
        });
        const body = (await read.json()) as { data: { state: string } };
        if (body.data.state === "success") return { taskId, seenAt: Date.now() };
      }
      throw new Error("baseline task did not finish");
    }),
  );
  return figuresOf(kie, seen);
}

/**
 * Many clients (possibly on several instances) following one job: KIE reads for that job, and
 * the most reads in any one second.
 */
export async function manyClientsOneJob(
  kie: FakeKie,
  clients: Client[],
  options: { durationMs: number },
): Promise<{ reads: number; maxReadsPerSecond: number; clientRequests: number }> {
  const owner = clients[0] as Client;
  const { status, body } = await postGenerate(
    owner,
    `[bench:ms=${options.durationMs}] shared`,
    "respond-async",
  );
  if (status !== 202) throw new Error(`POST /api/generate answered ${status}`);
  const taskId = body.taskId as string;
  let clientRequests = 0;
  await Promise.all(
    clients.map(async (client) => {
      let delay = Math.random() * 1_000;
      for (let i = 0; i < 400; i++) {
        await sleep(delay);
        clientRequests++;
        const response = await fetch(`${client.base}/api/generate/${taskId}`, {
          headers: authHeaders(client),
        });
        const answer = (await response.json()) as { status: string; pollAfterMs?: number };
        if (FINAL.has(answer.status)) return;
        delay = answer.pollAfterMs ?? 1_000;
      }
    }),
  );
  const reads = kie.task(taskId)?.reads ?? [];
  let maxReadsPerSecond = 0;
  for (const at of reads) {
    maxReadsPerSecond = Math.max(maxReadsPerSecond, reads.filter((t) => t >= at && t < at + 1_000).length);
  }
  return { reads: reads.length, maxReadsPerSecond, clientRequests };
}
