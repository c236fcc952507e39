/**
 * GET /api/generations?taskIds= (DESIGN.md §3): one watch for all of a page's running jobs. The
 * listed jobs only (unknown ids and other users' left out), the balance with them; with
 * `Prefer: wait=N` the answer is held until one of them has ended — so a page with several
 * running jobs holds one long-poll, not one per job. Bad lists are 400; no token 401.
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { readStatus, startJob } from "../jobs/jobKit";

interface Watched {
  success: true;
  generations: { taskId: string; status: string; prompt: string }[];
  nextCursor: null;
  notFound: string[];
  remainingCredits: number;
}

describeEachDatabase("api: GET /api/generations?taskIds= (one watch for several jobs)", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    env: { CREDITS_INITIAL: "20", RATE_LIMIT_PER_MINUTE: "1000", RATE_LIMIT_IP_PER_MINUTE: "1000" },
  }));

  const watch = (token: string | undefined, ids: string, prefer?: string) =>
    h.fetch(`/api/generations?taskIds=${ids}`, {
      ...(token && { token }),
      headers: prefer ? { prefer } : {},
    });

  it("holds one request until the first of the jobs ends, then answers for all of them", async () => {
    const { token } = await h.signIn();
    const slow = await startJob(h, token, "a slow one [sim:delay=600]");
    const never = await startJob(h, token, "one that never ends [sim:never]");
    const response = await watch(token, `${never.taskId},${slow.taskId}`, "wait=25");
    // The answer keeps the order asked (a job's public id can change once KIE has it).
    const body = (await response.json()) as Watched;
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(response.headers.get("preference-applied")).toBe("wait=25");
    expect(body.generations.map((job) => job.prompt)).toEqual([
      "one that never ends [sim:never]",
      "a slow one [sim:delay=600]",
    ]);
    expect(body.generations[1]?.status).toBe("succeeded");
    expect(["pending", "processing"]).toContain(body.generations[0]?.status);
    expect(body.notFound).toEqual([]);
    expect(body.generations).toHaveLength(2);
    expect(body.remainingCredits).toBe((await readStatus(h, token, slow.taskId)).remainingCredits);
    expect(body.nextCursor).toBeNull();
  });

  it("answers at once without a wait, and at once when one listed job has already ended", async () => {
    const { token } = await h.signIn();
    const never = await startJob(h, token, "still running [sim:never]");
    const quick = await startJob(h, token, "quick");
    let done = await readStatus(h, token, quick.taskId);
    for (let i = 0; i < 100 && done.status !== "succeeded"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      done = await readStatus(h, token, quick.taskId);
    }
    expect(done.status).toBe("succeeded");
    const plain = (await (await watch(token, never.taskId)).json()) as Watched;
    expect(plain.generations.map((job) => job.status)).toEqual([expect.stringMatching(/pending|processing/)]);
    const withEnded = await watch(token, `${never.taskId},${quick.taskId}`, "wait=25");
    const body = (await withEnded.json()) as Watched;
    expect(body.generations.find((job) => job.taskId === quick.taskId)?.status).toBe("succeeded");
  });

  it("leaves out unknown ids and other users' jobs", async () => {
    const alice = await h.signIn();
    const bob = await h.signIn();
    const hers = await startJob(h, alice.token, "alice's [sim:never]");
    const his = await startJob(h, bob.token, "bob's [sim:never]");
    const body = (await (
      await watch(alice.token, `${hers.taskId},${his.taskId},no-such-task,${hers.taskId}`)
    ).json()) as Watched;
    expect(body.generations.map((job) => job.taskId)).toEqual([hers.taskId]);
    expect(body.notFound).toEqual([his.taskId, "no-such-task"]);
    const none = (await (await watch(bob.token, `${hers.taskId},nothing`)).json()) as Watched;
    expect(none.generations).toEqual([]);
  });

  it("refuses a bad list (400) and a missing token (401)", async () => {
    const { token } = await h.signIn();
    const many = Array.from({ length: 21 }, (_, i) => `task-${i}`).join(",");
    for (const query of ["", ",", "a,,b", many, `${"x".repeat(101)}`]) {
      const response = await watch(token, query);
      expect(response.status, query).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_request");
    }
    const mixed = await h.fetch("/api/generations?taskIds=a&cursor=abc", { token });
    expect(mixed.status).toBe(400);
    expect((await watch(undefined, "a")).status).toBe(401);
  });
});
