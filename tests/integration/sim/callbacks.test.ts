import { createHmac, timingSafeEqual } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningKieSim } from "@/sim/server";
import {
  call,
  createTask,
  eventually,
  pollUntilFinal,
  startReceiver,
  startTestSim,
  textTask,
} from "./simTestKit";

const HMAC_KEY = "webhook-test-key";

let sim: RunningKieSim;

beforeAll(async () => {
  sim = await startTestSim({ webhookHmacKey: HMAC_KEY });
});
afterAll(() => sim.close());

async function withReceiver<T>(
  body: (receiver: Awaited<ReturnType<typeof startReceiver>>) => Promise<T>,
  respond?: Parameters<typeof startReceiver>[0],
): Promise<T> {
  const receiver = await startReceiver(respond);
  try {
    return await body(receiver);
  } finally {
    await receiver.close();
  }
}

describe("completion callbacks", () => {
  it("posts the success body with the same fields as recordInfo", async () => {
    await withReceiver(async (receiver) => {
      const callBackUrl = `${receiver.url}/api/kie/callback?job=j1&token=t1`;
      const taskId = await createTask(sim, textTask("called back", {}, { callBackUrl }));
      await receiver.waitFor(1);
      const [callback] = receiver.received;
      expect(callback!.headers["content-type"]).toContain("application/json");
      expect(callback!.body).toMatchObject({
        code: 200,
        msg: "Playground task completed successfully.",
        data: { taskId, model: "google/nano-banana", state: "success", failCode: "", failMsg: "" },
      });
      const record = (await call(sim, `/api/v1/jobs/recordInfo?taskId=${taskId}`)).json.data;
      expect(callback!.body.data).toEqual(record);
      expect(JSON.parse(callback!.body.data.param).callBackUrl).toBe(callBackUrl);
      expect(JSON.parse(callback!.body.data.resultJson).resultUrls).toHaveLength(1);
    });
  });

  it("posts code 501 with state fail and resultJson null when the task fails", async () => {
    await withReceiver(async (receiver) => {
      const taskId = await createTask(
        sim,
        textTask("[sim:fail=blocked by policy] x", {}, { callBackUrl: `${receiver.url}/cb` }),
      );
      await receiver.waitFor(1);
      expect(receiver.received[0]!.body).toMatchObject({
        code: 501,
        data: { taskId, state: "fail", resultJson: null, failCode: "500", failMsg: "blocked by policy" },
      });
    });
  });

  it("signs callbacks: X-Webhook-Signature = base64(HMAC-SHA256(key, '<taskId>.<timestamp>'))", async () => {
    await withReceiver(async (receiver) => {
      const taskId = await createTask(sim, textTask("signed", {}, { callBackUrl: `${receiver.url}/cb` }));
      await receiver.waitFor(1);
      const headers = receiver.received[0]!.headers;
      const timestamp = String(headers["x-webhook-timestamp"]);
      expect(timestamp).toMatch(/^\d{10}$/);
      expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
      const expected = createHmac("sha256", HMAC_KEY).update(`${taskId}.${timestamp}`).digest();
      const given = Buffer.from(String(headers["x-webhook-signature"]), "base64");
      expect(given.length).toBe(expected.length);
      expect(timingSafeEqual(given, expected)).toBe(true);
      const forged = createHmac("sha256", "another-key").update(`${taskId}.${timestamp}`).digest();
      expect(given.equals(forged)).toBe(false);
    });
  });

  it("sends no signature headers when no HMAC key is configured", async () => {
    const unsigned = await startTestSim();
    try {
      await withReceiver(async (receiver) => {
        await createTask(unsigned, textTask("unsigned", {}, { callBackUrl: `${receiver.url}/cb` }));
        await receiver.waitFor(1);
        expect(receiver.received[0]!.headers["x-webhook-signature"]).toBeUndefined();
        expect(receiver.received[0]!.headers["x-webhook-timestamp"]).toBeUndefined();
      });
    } finally {
      await unsigned.close();
    }
  });

  it("[sim:callback=duplicate] delivers the same callback twice", async () => {
    await withReceiver(async (receiver) => {
      const taskId = await createTask(
        sim,
        textTask("twice [sim:callback=duplicate]", {}, { callBackUrl: `${receiver.url}/cb` }),
      );
      await receiver.waitFor(2);
      expect(receiver.received.map((c) => c.body.data.taskId)).toEqual([taskId, taskId]);
      expect(receiver.received[1]!.body).toEqual(receiver.received[0]!.body);
    });
  });

  it("[sim:callback=late=<ms>] delivers that long after the task finished", async () => {
    await withReceiver(async (receiver) => {
      const taskId = await createTask(
        sim,
        textTask("later [sim:callback=late=300]", {}, { callBackUrl: `${receiver.url}/cb` }),
      );
      const { final } = await pollUntilFinal(sim, taskId);
      expect(receiver.received).toHaveLength(0);
      await receiver.waitFor(1);
      expect(receiver.received[0]!.receivedAt - final.completeTime).toBeGreaterThanOrEqual(300);
    });
  });

  it("[sim:callback=none] finishes the task without a callback", async () => {
    await withReceiver(async (receiver) => {
      const before = sim.stats().callbacksSent;
      const silent = await createTask(
        sim,
        textTask("quiet [sim:callback=none]", {}, { callBackUrl: `${receiver.url}/cb` }),
      );
      expect((await pollUntilFinal(sim, silent)).final.state).toBe("success");
      // A normal task created afterwards finishes later; once its callback is in, the first had its chance.
      const loud = await createTask(sim, textTask("loud", {}, { callBackUrl: `${receiver.url}/cb` }));
      await receiver.waitFor(1);
      expect(receiver.received.map((c) => c.body.data.taskId)).toEqual([loud]);
      await eventually(() => sim.stats().callbacksSent > before);
      expect(sim.stats().callbacksSent).toBe(before + 1);
    });
  });

  it("[sim:callback=reorder] holds the callback until another task's callback went out", async () => {
    await withReceiver(async (receiver) => {
      const first = await createTask(
        sim,
        textTask("first [sim:callback=reorder]", {}, { callBackUrl: `${receiver.url}/cb` }),
      );
      await pollUntilFinal(sim, first);
      const second = await createTask(sim, textTask("second", {}, { callBackUrl: `${receiver.url}/cb` }));
      await receiver.waitFor(2);
      expect(receiver.received.map((c) => c.body.data.taskId)).toEqual([second, first]);
    });
  });

  it("[sim:callback=early] calls back while recordInfo still says generating", async () => {
    const seenDuringCallback: string[] = [];
    await withReceiver(
      async (receiver) => {
        const taskId = await createTask(
          sim,
          textTask("eager [sim:callback=early]", {}, { callBackUrl: `${receiver.url}/cb` }),
        );
        await receiver.waitFor(1);
        expect(receiver.received[0]!.body.data.state).toBe("success");
        expect(seenDuringCallback).toEqual(["generating"]);
        expect((await pollUntilFinal(sim, taskId)).final.state).toBe("success");
      },
      async (callback, res) => {
        const answer = await call(sim, `/api/v1/jobs/recordInfo?taskId=${callback.body.data.taskId}`);
        seenDuringCallback.push(answer.json.data.state);
        res.writeHead(200).end();
      },
    );
  });

  it("survives a receiver that fails: the task still succeeds and the failure is counted", async () => {
    await withReceiver(
      async (receiver) => {
        const before = sim.stats();
        const taskId = await createTask(
          sim,
          textTask("receiver down", {}, { callBackUrl: `${receiver.url}/cb` }),
        );
        await receiver.waitFor(1);
        expect((await pollUntilFinal(sim, taskId)).final.state).toBe("success");
        await eventually(() => sim.stats().callbacksFailed > before.callbacksFailed);
        const after = sim.stats();
        expect(after.callbacksSent - before.callbacksSent).toBe(1);
        expect(after.callbacksFailed - before.callbacksFailed).toBe(1);
      },
      (_callback, res) => {
        res.writeHead(500).end("boom");
      },
    );
  });

  it("survives an unreachable callback URL", async () => {
    const closed = await startReceiver();
    const url = `${closed.url}/cb`;
    await closed.close();
    const before = sim.stats().callbacksFailed;
    const taskId = await createTask(sim, textTask("nobody home", {}, { callBackUrl: url }));
    expect((await pollUntilFinal(sim, taskId)).final.state).toBe("success");
    await eventually(() => sim.stats().callbacksFailed > before);
    expect(sim.stats().callbacksFailed).toBe(before + 1);
  });
});
