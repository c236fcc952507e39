/**
 * KIE_WEBHOOK_HMAC_KEY (kie-api.md "Callback"): callbacks signed by KIE's key settle the job; a
 * callback with the right per-job token but a missing, wrong or stale signature is refused (401)
 * before KIE is read, and changes nothing.
 */
import { createHmac } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  eventually,
  isOpenStatus,
  jobRow,
  ledgerOf,
  postCallback,
  readStatus,
  recordInfoReads,
  settledRow,
  simTask,
  startJob,
} from "./jobKit";

const HMAC_KEY = "whk_test_4f1c2b9a";

function sign(key: string, taskId: string, timestamp: string): string {
  return createHmac("sha256", key).update(`${taskId}.${timestamp}`).digest("base64");
}

const nowSeconds = () => String(Math.floor(Date.now() / 1000));

describeEachDatabase("jobs: signed KIE callbacks", (getDb) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({
      database: getDb(),
      callbacks: true,
      env: { KIE_WEBHOOK_HMAC_KEY: HMAC_KEY },
      sim: { webhookHmacKey: HMAC_KEY },
    });
  });
  afterEach(async () => {
    await h?.close();
  });

  it("a callback KIE signed with the key settles the job", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "a signed postcard");

    // Nobody polls: only the callback can settle the job this early.
    const row = await settledRow(getDb(), taskId);
    expect(row.status).toBe("succeeded");
    expect(h.sim.stats()).toMatchObject({ callbacksSent: 1, callbacksFailed: 0 });
    expect(recordInfoReads(h)).toBe(1);
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
    expect(await readStatus(h, token, taskId)).toMatchObject({ status: "succeeded", remainingCredits: 9 });
  });

  it("a missing, wrong or stale signature is refused and changes nothing", async () => {
    const { token } = await h.signIn();
    const { taskId } = await startJob(h, token, "[sim:callback=none] an unsigned letter");
    const task = await eventually(
      "the KIE task to finish",
      () => simTask(h, taskId),
      (t) => t.state === "success",
    );
    const url = task.callBackUrl as string;
    const body = {
      code: 200,
      msg: "Playground task completed successfully.",
      data: { taskId, state: "success", resultJson: task.resultJson },
    };
    const fresh = nowSeconds();
    const stale = String(Math.floor(Date.now() / 1000) - 10 * 60);
    const attempts: [string, Record<string, string>][] = [
      ["no signature headers", {}],
      ["a timestamp without a signature", { "x-webhook-timestamp": fresh }],
      ["a signature without a timestamp", { "x-webhook-signature": sign(HMAC_KEY, taskId, fresh) }],
      [
        "signed with another key",
        { "x-webhook-timestamp": fresh, "x-webhook-signature": sign("not-the-key", taskId, fresh) },
      ],
      [
        "signed for another task",
        { "x-webhook-timestamp": fresh, "x-webhook-signature": sign(HMAC_KEY, "another-task", fresh) },
      ],
      [
        "a signature for another time",
        {
          "x-webhook-timestamp": fresh,
          "x-webhook-signature": sign(HMAC_KEY, taskId, String(Number(fresh) - 1)),
        },
      ],
      [
        "stale (10 minutes old)",
        { "x-webhook-timestamp": stale, "x-webhook-signature": sign(HMAC_KEY, taskId, stale) },
      ],
      [
        "garbage timestamp",
        { "x-webhook-timestamp": "soon", "x-webhook-signature": sign(HMAC_KEY, taskId, "soon") },
      ],
    ];
    for (const [what, headers] of attempts) {
      const response = await postCallback(url, body, headers);
      expect(response.status, what).toBe(401);
      expect(await response.json(), what).toMatchObject({ success: false, error: { code: "unauthorized" } });
    }

    // Refused before KIE was read; the job is as it was.
    expect(recordInfoReads(h)).toBe(0);
    const row = await jobRow(getDb(), taskId);
    expect(isOpenStatus(row.status)).toBe(true);
    expect(row.resultUrls).toBeNull();
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1 });
    expect(await creditsOf(h, token)).toBe(9);

    // The same callback, correctly signed, is accepted: the refusals were about the signature.
    const now = nowSeconds();
    const accepted = await postCallback(url, body, {
      "x-webhook-timestamp": now,
      "x-webhook-signature": sign(HMAC_KEY, taskId, now),
    });
    expect(accepted.status).toBe(200);
    const settled = await settledRow(getDb(), taskId);
    expect(settled.status).toBe("succeeded");
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, capture: 1 });
  });
});
