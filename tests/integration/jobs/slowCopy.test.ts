/**
 * Reads answer within their own bound while a result is being copied into a slow store (issue 22
 * items 3 and 11; docs/JOBS.md "Waiting for a job"). The store takes 30 s per put (a double over
 * the app's own store, tests/helpers/slowStore.ts); each test asserts the ORDER — the answer
 * arrives while the put is still running — never a duration. Then the put lands and the job is
 * settled once: succeeded, stored, captured once.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { type SlowStore, slowDown } from "../../helpers/slowStore";
import {
  backdate,
  eventually,
  isOpenStatus,
  jobRow,
  ledgerOf,
  readStatus,
  settledRow,
  simTask,
  startJob,
} from "./jobKit";

/** Long enough for the old code (two 30 s puts per copy) to show its failure, not hang. */
const SLOW_TEST_MS = 120_000;

describeEachDatabase("jobs: reads while a result is copied into a slow store", (getDb) => {
  const harnesses: Harness[] = [];
  const stores: SlowStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) store.release();
    for (const harness of harnesses.splice(0).reverse()) await harness.close();
  });
  async function harness(options: { callbacks?: boolean } = {}) {
    const started = await startHarness({ database: getDb(), ...options });
    harnesses.push(started);
    return started;
  }
  function slow(h: Harness): SlowStore {
    const store = slowDown(h.app.imageStore);
    stores.push(store);
    return store;
  }
  /** A job whose KIE task has finished, not yet read by anyone (no callbacks: nothing settles it). */
  async function finishedOnKie(h: Harness, token: string, prompt: string) {
    const { taskId } = await startJob(h, token, prompt);
    await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (task) => task.state === "success",
    );
    return taskId;
  }
  /** Lets the copy through; the job ends succeeded, stored and captured exactly once. */
  async function landsOnce(store: SlowStore, taskId: string) {
    store.release();
    const row = await settledRow(getDb(), taskId);
    expect(row.status).toBe("succeeded");
    expect(row.imageStoredAt).not.toBeNull();
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
  }

  it(
    "a status read that finds the success answers while the copy is still running; the job settles when it lands",
    async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const taskId = await finishedOnKie(h, token, "a heron over a slow bucket");
      const store = slow(h);

      const answer = await readStatus(h, token, taskId);
      store.events.push("answered");
      expect(store.events.slice(0, 2)).toEqual(["put started", "answered"]);
      expect(store.pending).toBe(1);
      expect(isOpenStatus(answer.status)).toBe(true);

      await landsOnce(store, taskId);
      const done = await readStatus(h, token, taskId);
      expect(done).toMatchObject({ status: "succeeded", creditsUsed: 1 });
      const imageUrl = new URL(done.imageUrl as string, "http://localhost");
      const image = await h.fetch(imageUrl.pathname + imageUrl.search, { token });
      expect(image.status).toBe(200);
    },
    SLOW_TEST_MS,
  );

  it(
    "Prefer: wait=1 answers at its bound, with the job open, while the copy is still running",
    async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const taskId = await finishedOnKie(h, token, "a kettle watched for one second");
      const store = slow(h);

      const response = await h.fetch(`/api/generate/${encodeURIComponent(taskId)}`, {
        token,
        headers: { prefer: "wait=1" },
      });
      store.events.push("answered");
      expect(response.status).toBe(200);
      expect(response.headers.get("preference-applied")).toBe("wait=1");
      expect(isOpenStatus(((await response.json()) as { status: string }).status)).toBe(true);
      expect(store.events.slice(0, 2)).toEqual(["put started", "answered"]);
      expect(store.pending).toBe(1);

      await landsOnce(store, taskId);
    },
    SLOW_TEST_MS,
  );

  it(
    "a sync generate answers at its budget (504 with its taskId) while the copy of its result is still running",
    async () => {
      const h = await startHarness({ database: getDb(), env: { KIE_POLL_BUDGET_MS: "3000" } });
      harnesses.push(h);
      const { token } = await h.signIn();
      const store = slow(h);

      const response = await h.fetch("/api/generate", {
        method: "POST",
        token,
        headers: { "content-type": "application/json", prefer: "wait" },
        body: JSON.stringify({ prompt: "a sync request and a slow bucket" }),
      });
      store.events.push("answered");
      const body = (await response.json()) as { error: { code: string; taskId: string } };
      expect(response.status, JSON.stringify(body)).toBe(504);
      expect(body.error.code).toBe("upstream_timeout");
      expect(store.events.slice(0, 2)).toEqual(["put started", "answered"]);
      expect(store.pending).toBe(1);

      await landsOnce(store, body.error.taskId);
    },
    SLOW_TEST_MS,
  );

  it(
    "a read of one job does not wait for the user's sweep copying another job",
    async () => {
      const h = await harness({ callbacks: true });
      const { token } = await h.signIn();
      // Y: its callback is lost; the user's sweep will find it finished and copy its result.
      const lost = await finishedOnKie(h, token, "[sim:callback=none] a letter lost in the post");
      // X: settled by its callback before the store slows down.
      const { taskId: seen } = await startJob(h, token, "a postcard that arrived");
      await settledRow(getDb(), seen);
      await backdate(getDb(), (await jobRow(getDb(), lost)).id, 30);
      const store = slow(h);

      const answer = await readStatus(h, token, seen); // starts the user's sweep, which copies Y
      store.events.push("answered");
      expect(answer.status).toBe("succeeded");
      await eventually(
        "the sweep to copy Y",
        () => store.events.includes("put started"),
        (started) => started,
      );
      expect(store.events.indexOf("answered")).toBeLessThan(
        store.events.includes("put done") ? store.events.indexOf("put done") : Infinity,
      );
      expect(store.pending).toBe(1);

      await landsOnce(store, lost);
    },
    SLOW_TEST_MS,
  );

  it(
    "a reconciler sweep ends while the copy of a job it found succeeded is still running",
    async () => {
      const h = await harness();
      const { token } = await h.signIn();
      const taskId = await finishedOnKie(h, token, "a parcel nobody is waiting for");
      await backdate(getDb(), (await jobRow(getDb(), taskId)).id, 30);
      const store = slow(h);

      const swept = await h.app.generations.reconcile();
      store.events.push("swept");
      expect(swept.examined).toBe(1);
      expect(store.events.slice(0, 2)).toEqual(["put started", "swept"]);
      expect(store.pending).toBe(1);

      await landsOnce(store, taskId);
    },
    SLOW_TEST_MS,
  );

  it("a read after the user's sweep settled the same job answers with the settled job, not a stale copy", async () => {
    const h = await harness({ callbacks: true });
    const { token } = await h.signIn();
    const taskId = await finishedOnKie(h, token, "[sim:callback=none] a reply nobody announced");
    // Old enough for the user's sweep, which claims it (the refresh lease) before the read can.
    await backdate(getDb(), (await jobRow(getDb(), taskId)).id, 30);

    const answer = await readStatus(h, token, taskId);
    expect(answer).toMatchObject({ status: "succeeded", creditsUsed: 1 });
    const row = await jobRow(getDb(), taskId);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
  });
});
