/**
 * KIE's callbacks duplicated, out of order, early, and forged (DESIGN.md §5): a job settles once,
 * by what KIE's own record says, and every scenario ends with a balanced ledger.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generations } from "@/lib/db";
import {
  createTestDatabase,
  creditsOf,
  eventually,
  expectImageLoads,
  expectSettledAndBalanced,
  type Harness,
  json,
  startHarness,
  TEST_DATABASE_URL,
  type TestDatabase,
} from "./faultKit";

type Status = { status: string; error?: { code: string } };

const finalStatus = (h: Harness, token: string, taskId: string) =>
  eventually(
    `task ${taskId} to finish`,
    async () => (await h.fetch(`/api/generate/${taskId}`, { token })).json() as Promise<Status>,
    (body) => body.status !== "pending" && body.status !== "processing",
    { attempts: 150, intervalMs: 100 },
  );

const postCallback = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

const successBody = (taskId: string) => ({
  code: 200,
  msg: "Playground task completed successfully.",
  data: {
    taskId,
    state: "success",
    resultJson: JSON.stringify({ resultUrls: ["https://tempfile.aiquickdraw.com/forged.png"] }),
    failCode: "",
    failMsg: "",
  },
});

describe.skipIf(!TEST_DATABASE_URL)(
  `faults: callbacks${TEST_DATABASE_URL ? "" : " (needs TEST_DATABASE_URL)"}`,
  () => {
    let database: TestDatabase;
    let h: Harness;
    let token: string;
    beforeAll(async () => {
      database = await createTestDatabase("postgres");
    });
    afterAll(async () => {
      await database?.dispose();
    });
    beforeEach(async () => {
      await database.truncate();
      h = await startHarness({ database: database.database, callbacks: true });
      token = (await h.signIn()).token;
    });
    afterEach(async () => {
      await h?.close();
    });

    const start = async (prompt: string): Promise<string> => {
      const response = await h.fetch("/api/generate", {
        token,
        ...json({ prompt }, { prefer: "respond-async" }),
      });
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(202);
      return body.taskId;
    };
    const callbackUrlOf = (taskId: string) => h.sim.task(taskId)?.callBackUrl as string;

    it("duplicated and out-of-order callbacks settle each job once", async () => {
      const duplicated = await start("[sim:callback=duplicate] twice told");
      const held = await start("[sim:callback=reorder] [sim:delay=100] told late");
      const other = await start("[sim:delay=400] told in between");
      for (const taskId of [duplicated, held, other]) {
        expect((await finalStatus(h, token, taskId)).status).toBe("succeeded");
      }
      await eventually(
        "every callback to arrive",
        () => h.sim.stats().callbacksSent,
        (n) => n >= 4,
      );
      // A replay of an old callback, after settlement, changes nothing.
      expect((await postCallback(callbackUrlOf(duplicated), successBody(duplicated))).status).toBe(200);
      expect(await creditsOf(h, token)).toBe(7);
      await expectSettledAndBalanced(database.database);
    });

    it("an early callback (KIE's record still running) is re-checked until the record is final", async () => {
      const taskId = await start("[sim:callback=early] ahead of the record");
      expect((await finalStatus(h, token, taskId)).status).toBe("succeeded");
      expect(await creditsOf(h, token)).toBe(9);
      await expectSettledAndBalanced(database.database);
    });

    it("a callback before attach: KIE's callback outruns createTask's answer, and still settles the job", async () => {
      // createTask's answer trickles back (the task is made, runs and calls back meanwhile), and
      // the callback's read of KIE's record is slow: create() attaches the task before it returns.
      h.sim.setFaults("createTask:slow=100;times=1, recordInfo:latency=3000;times=1");
      const taskId = await start("[sim:delay=50] told before the answer");
      expect(h.sim.task(taskId)?.callbacksSent).toBe(1);

      // Nobody polls: only the callback can settle the job.
      const [row] = await eventually(
        "the callback to settle the job",
        () => database.database.db.select().from(generations),
        (rows) => rows[0]?.status === "succeeded",
        { attempts: 150, intervalMs: 100 },
      );
      expect(row?.kieTaskId).toBe(taskId);
      expect(h.sim.stats().calls.recordInfo).toBe(1);
      const status = await (await h.fetch(`/api/generate/${taskId}`, { token })).json();
      expect(status).toMatchObject({ status: "succeeded", creditsUsed: 1 });
      expect(await creditsOf(h, token)).toBe(9);
      await expectSettledAndBalanced(database.database);
      await expectImageLoads(h, token, status.imageUrl);
    });

    it("forged callbacks: a wrong token is refused; a forged success for a failing task is not believed", async () => {
      const failing = await start(
        "[sim:fail=refused by policy] [sim:delay=800] [sim:callback=none] will fail",
      );
      const url = new URL(callbackUrlOf(failing));
      const wrongToken = new URL(url);
      wrongToken.searchParams.set("token", "forged-token-forged-token-forged-token-xx");
      expect((await postCallback(wrongToken.toString(), successBody(failing))).status).toBe(403);

      // The right token (say, leaked) with a body claiming success: KIE's record is re-read instead.
      expect((await postCallback(url.toString(), successBody(failing))).status).toBe(200);
      // A body naming another task than the job's is refused outright.
      expect((await postCallback(url.toString(), successBody("f".repeat(32)))).status).toBe(403);

      const settled = await finalStatus(h, token, failing);
      expect(settled).toMatchObject({ status: "failed", error: { code: "generation_failed" } });
      expect(await creditsOf(h, token)).toBe(10);
      await expectSettledAndBalanced(database.database);
    });
  },
);
