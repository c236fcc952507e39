/**
 * Idempotency-Key on POST /api/generate (DESIGN.md §3): a retry replays the first answer without a
 * second KIE task or a second charge; a retry while the first still runs is 409; the key with
 * another body is 422; keys belong to one user; an answer where nothing happened frees the key.
 */
import { afterEach, expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  generateJson,
  generateMultipart,
  jobLedgerOf,
  kieWork,
  kindsOf,
  pngImage,
  waitFor,
} from "./generateKit";

describeEachDatabase("POST /api/generate: Idempotency-Key", (getDb) => {
  const h = useHarness(() => ({ database: getDb() }));
  afterEach(() => {
    h.sim.setFaults([]);
  });

  it("async: the retry replays the identical 202 (+ Idempotent-Replayed), one KIE task, charged once", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const request = { prompt: "exactly once", aspectRatio: "1:1" };
    const first = await generateJson(h, request, {
      token,
      prefer: "respond-async",
      idempotencyKey: "order-1",
    });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();

    for (let i = 0; i < 2; i++) {
      const again = await generateJson(h, request, {
        token,
        prefer: "respond-async",
        idempotencyKey: "order-1",
      });
      expect(again.status).toBe(202);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.headers.get("location")).toBe(first.headers.get("location"));
    }
    expect(kieWork(h).createTask - before).toBe(1);
    expect(await creditsOf(h, token)).toBe(9);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["reserve"]);
  });

  it("a replay matches the first request by content: the same JSON with its keys in another order", async () => {
    const { token } = await h.signIn();
    const first = await generateJson(
      h,
      { prompt: "order of keys", aspectRatio: "3:2", outputFormat: "jpeg" },
      { token, prefer: "respond-async", idempotencyKey: "keys-order" },
    );
    const again = await generateJson(
      h,
      { outputFormat: "jpeg", aspectRatio: "3:2", prompt: "order of keys" },
      { token, prefer: "respond-async", idempotencyKey: "keys-order" },
    );
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  it("409 while the first request is still running; afterwards the 200 is replayed; one task, one charge", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const request = { prompt: "slow banana [sim:delay=1500]" };
    const firstPending = generateJson(h, request, { token, prefer: "wait", idempotencyKey: "slow-1" });
    // The first request holds the key once its task exists at KIE (it is now waiting for it).
    await waitFor(() => kieWork(h).createTask === before + 1, { what: "the first createTask" });

    const concurrent = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "slow-1" });
    expect(concurrent.status, JSON.stringify(concurrent.body)).toBe(409);
    expect(concurrent.body.error.code).toBe("idempotency_key_in_progress");

    const first = await firstPending;
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.status).toBe("succeeded");

    const replay = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "slow-1" });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    expect(kieWork(h).createTask - before).toBe(1);
    expect(await creditsOf(h, token)).toBe(9);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["capture", "reserve"]);
  });

  it("five identical requests at the same instant: one job, one charge; the rest are 409 or its replay", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const request = { prompt: "stampede" };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        generateJson(h, request, { token, prefer: "respond-async", idempotencyKey: "stampede-1" }),
      ),
    );
    const original = answers.filter((a) => a.status === 202 && a.headers.get("idempotent-replayed") === null);
    expect(original, JSON.stringify(answers.map((a) => [a.status, a.body]))).toHaveLength(1);
    for (const other of answers.filter((a) => a !== original[0])) {
      if (other.status === 409) {
        expect(other.body.error.code).toBe("idempotency_key_in_progress");
      } else {
        expect(other.status).toBe(202);
        expect(other.body).toEqual(original[0]?.body);
        expect(other.headers.get("idempotent-replayed")).toBe("true");
      }
    }
    expect(kieWork(h).createTask - before).toBe(1);
    expect(await creditsOf(h, token)).toBe(9);
    expect(kindsOf(await jobLedgerOf(getDb(), userId))).toEqual(["reserve"]);
  });

  it("a failed generation (it names a task) is replayed as the same 422, still uncharged", async () => {
    const { token } = await h.signIn();
    const before = kieWork(h).createTask;
    const request = { prompt: "refused [sim:fail=Not allowed]" };
    const first = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "fail-1" });
    expect(first.status, JSON.stringify(first.body)).toBe(422);
    expect(first.body.error.code).toBe("generation_failed");
    const replay = await generateJson(h, request, { token, prefer: "wait", idempotencyKey: "fail-1" });
    expect(replay.status).toBe(422);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(kieWork(h).createTask - before).toBe(1);
    expect(await creditsOf(h, token)).toBe(10);
  });

  it("the same key with a different body → 422 idempotency_key_reused, nothing sent to KIE", async () => {
    const { token } = await h.signIn();
    const first = await generateJson(
      h,
      { prompt: "first body" },
      { token, prefer: "respond-async", idempotencyKey: "k-2" },
    );
    expect(first.status).toBe(202);
    const before = kieWork(h).createTask;
    for (const other of [{ prompt: "second body" }, { prompt: "first body", aspectRatio: "9:16" }]) {
      const res = await generateJson(h, other, { token, prefer: "respond-async", idempotencyKey: "k-2" });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error.code).toBe("idempotency_key_reused");
    }
    expect(kieWork(h).createTask).toBe(before);
    expect(await creditsOf(h, token)).toBe(9);
  });

  it("multipart: the same file replays; another file under the same key → 422; one upload, one task", async () => {
    const { token } = await h.signIn();
    const red = await pngImage(16, 16, { r: 255, g: 0, b: 0 });
    const green = await pngImage(16, 16, { r: 0, g: 255, b: 0 });
    const formWith = (image: Buffer) => {
      const form = new FormData();
      form.append("prompt", "edit once");
      form.append("images", new Blob([new Uint8Array(image)], { type: "image/png" }), "photo.png");
      return form;
    };
    const before = kieWork(h);
    const options = { token, prefer: "respond-async", idempotencyKey: "upload-1" } as const;
    const first = await generateMultipart(h, formWith(red), options);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const replay = await generateMultipart(h, formWith(red), options);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const otherFile = await generateMultipart(h, formWith(green), options);
    expect(otherFile.status, JSON.stringify(otherFile.body)).toBe(422);
    expect(otherFile.body.error.code).toBe("idempotency_key_reused");

    const after = kieWork(h);
    expect(after.uploads - before.uploads).toBe(1);
    expect(after.createTask - before.createTask).toBe(1);
    expect(await creditsOf(h, token)).toBe(9);
  });

  it("keys are scoped per user: two users with the same key and body each get their own job", async () => {
    const alice = await h.signIn();
    const bob = await h.signIn();
    const before = kieWork(h).createTask;
    const request = { prompt: "shared key" };
    const a = await generateJson(h, request, {
      token: alice.token,
      prefer: "respond-async",
      idempotencyKey: "same",
    });
    const b = await generateJson(h, request, {
      token: bob.token,
      prefer: "respond-async",
      idempotencyKey: "same",
    });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    expect(b.body.taskId).not.toBe(a.body.taskId);
    expect(kieWork(h).createTask - before).toBe(2);
    expect(await creditsOf(h, alice.token)).toBe(9);
    expect(await creditsOf(h, bob.token)).toBe(9);
  });

  it("KIE's 429 puts the job in line: the same-key retry answers from that job, never a second one", async () => {
    const { token } = await h.signIn();
    const request = { prompt: "retry me" };
    h.sim.setFaults("createTask:http=429;retry-after=45;times=1");
    const queued = await generateJson(h, request, {
      token,
      prefer: "respond-async",
      idempotencyKey: "busy-1",
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body.queuePosition).toBe(1);

    const retried = await generateJson(h, request, {
      token,
      prefer: "respond-async",
      idempotencyKey: "busy-1",
    });
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(retried.body.taskId).toBe(queued.body.taskId);
    expect(await creditsOf(h, token)).toBe(9);
  });
});
