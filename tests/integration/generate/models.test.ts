/**
 * The Nano Banana family through the real route (issues 16, 26): each catalogue model, text and
 * edit, sends exactly the createTask body kie-api.md documents for it (kie-sim refuses any field
 * the model does not take, and a missing required one, with KIE's 422) and reaches success; each
 * request is charged its own price (MODEL_CREDITS, else KIE's cost in proportion), refunded in full
 * on failure; an option the model lacks is a 400 naming it, before any KIE call.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  creditsOf,
  dataUri,
  generateJson,
  jobLedgerOf,
  kieCreditsOf,
  kieInputOf,
  kieWork,
  kindsOf,
  pngImage,
  pollUntilSettled,
} from "./generateKit";

const SIM_PUBLIC_BASE = "https://kie-sim.test";
const UPLOADED = expect.stringMatching(/^https:\/\/kie-sim\.test\/files\//);
const PRICES = "nano-banana=1,nano-banana-pro=4,nano-banana-pro:4K=8,nano-banana-2=2";

/**
 * What each catalogue model sends to KIE (kie-api.md "Other Nano Banana models"), for all six KIE
 * models. 2.1 and Lite have no MODEL_CREDITS entry: they cost the default, KIE's cost in proportion.
 */
const SNAPSHOTS = [
  {
    model: "nano-banana",
    kieCredits: 4,
    options: { aspectRatio: "16:9", outputFormat: "jpeg" },
    price: 1,
    text: {
      model: "google/nano-banana",
      input: { aspect_ratio: "16:9", output_format: "jpeg", nsfw_checker: false },
    },
    edit: {
      model: "google/nano-banana-edit",
      input: { image_urls: [UPLOADED], aspect_ratio: "16:9", output_format: "jpeg", nsfw_checker: false },
    },
  },
  {
    model: "nano-banana-pro",
    kieCredits: 24,
    options: { aspectRatio: "21:9", resolution: "4K", outputFormat: "jpeg" },
    price: 8,
    text: {
      model: "nano-banana-pro",
      input: { aspect_ratio: "21:9", resolution: "4K", output_format: "jpg" },
    },
    edit: {
      model: "nano-banana-pro",
      input: { image_input: [UPLOADED], aspect_ratio: "21:9", resolution: "4K", output_format: "jpg" },
    },
  },
  {
    model: "nano-banana-2",
    kieCredits: 12,
    options: { aspectRatio: "1:4", resolution: "2K", outputFormat: "png" },
    price: 2,
    text: {
      model: "nano-banana-2",
      input: { aspect_ratio: "1:4", resolution: "2K", output_format: "png" },
    },
    edit: {
      model: "nano-banana-2",
      input: { image_input: [UPLOADED], aspect_ratio: "1:4", resolution: "2K", output_format: "png" },
    },
  },
  {
    model: "nano-banana-2-1",
    kieCredits: 6,
    options: { aspectRatio: "8:1", resolution: "2K", outputFormat: "jpeg" },
    price: 2, // KIE: 6 credits at 2K, 1.5× its cheapest image, rounded up
    text: {
      model: "nano-banana-2-1",
      input: { aspect_ratio: "8:1", resolution: "2K", output_format: "jpg" },
    },
    edit: {
      model: "nano-banana-2-1",
      input: { image_input: [UPLOADED], aspect_ratio: "8:1", resolution: "2K", output_format: "jpg" },
    },
  },
  {
    model: "nano-banana-2-lite",
    kieCredits: 4,
    options: {},
    price: 1,
    text: { model: "nano-banana-2-lite", input: { aspect_ratio: "1:1" } },
    edit: { model: "nano-banana-2-lite", input: { image_urls: [UPLOADED], aspect_ratio: "1:1" } },
  },
] as const;

describeEachDatabase("POST /api/generate: every catalogue model", (getDb) => {
  let h: Harness;
  let png: string;
  beforeAll(async () => {
    h = await startHarness({
      database: getDb(),
      sim: { publicUrl: SIM_PUBLIC_BASE, ownResultUrls: true },
      env: { MODEL_CREDITS: PRICES, CREDITS_INITIAL: "100", RATE_LIMIT_PER_MINUTE: "1000" },
    });
    png = dataUri("image/png", await pngImage(40, 30));
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const snapshot of SNAPSHOTS) {
    describe(snapshot.model, () => {
      for (const kind of ["text", "edit"] as const) {
        it(`${kind}: the documented createTask body, success, charged ${snapshot.price}`, async () => {
          const { token } = await h.signIn();
          const prompt = `${snapshot.model} ${kind} banana`;
          const res = await generateJson(
            h,
            { prompt, model: snapshot.model, ...snapshot.options, ...(kind === "edit" && { images: [png] }) },
            { token, prefer: "wait" },
          );
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          expect(res.body).toMatchObject({
            status: "succeeded",
            creditsUsed: snapshot.price,
            remainingCredits: 100 - snapshot.price,
          });
          // The job shows the ratio KIE was sent (Lite's default when none was asked).
          const list = await h.fetch("/api/generations", { token });
          const { generations } = (await list.json()) as { generations: { aspectRatio?: string }[] };
          expect(generations[0]?.aspectRatio).toBe(snapshot[kind].input.aspect_ratio);
          // KIE's own charge (kie-sim answers kie-api.md's prices) is kept beside ours.
          expect(await kieCreditsOf(getDb(), res.body.taskId)).toBe(snapshot.kieCredits);
          const sent = kieInputOf(h, res.body.taskId);
          expect(sent).toEqual({ model: snapshot[kind].model, input: { prompt, ...snapshot[kind].input } });
        });
      }
    });
  }

  it("the history shows each job's price", async () => {
    const { token } = await h.signIn();
    const pro = await generateJson(h, { prompt: "p", model: "nano-banana-pro" }, { token, prefer: "wait" });
    const cheap = await generateJson(h, { prompt: "p", model: "nano-banana" }, { token, prefer: "wait" });
    expect([pro.status, cheap.status]).toEqual([200, 200]);
    const list = await h.fetch("/api/generations", { token });
    const body = (await list.json()) as { generations: { taskId: string; creditsUsed: number }[] };
    expect(body.generations.map((g) => [g.taskId, g.creditsUsed])).toEqual([
      [cheap.body.taskId, 1],
      [pro.body.taskId, 4],
    ]);
  });

  it("a 4K Pro image that KIE fails is refunded in full", async () => {
    const { token, userId } = await h.signIn();
    const res = await generateJson(
      h,
      { prompt: "forbidden [sim:fail=Content policy violation]", model: "nano-banana-pro", resolution: "4K" },
      { token, prefer: "respond-async" },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.remainingCredits).toBe(92);
    const settled = await pollUntilSettled(h, token, res.body.taskId);
    expect(settled.body).toMatchObject({ status: "failed", creditsUsed: 0, remainingCredits: 100 });
    const ledger = await jobLedgerOf(getDb(), userId);
    expect(kindsOf(ledger)).toEqual(["release", "reserve"]);
    expect(ledger.map((row) => Math.abs(row.amount))).toEqual([8, 8]);
  });

  it.each([
    ["resolution on google/nano-banana", { model: "google/nano-banana", resolution: "2K" }, "resolution"],
    ["resolution on the default model", { resolution: "4K" }, "resolution"],
    ["googleSearch on nano-banana-pro", { model: "nano-banana-pro", googleSearch: false }, "googleSearch"],
    ["googleSearch on nano-banana-2", { model: "nano-banana-2", googleSearch: true }, "googleSearch"],
    ["a tall ratio on nano-banana-pro", { model: "nano-banana-pro", aspectRatio: "1:8" }, "aspectRatio"],
    ["resolution on nano-banana-2-lite", { model: "nano-banana-2-lite", resolution: "1K" }, "resolution"],
    [
      "outputFormat on nano-banana-2-lite",
      { model: "nano-banana-2-lite", outputFormat: "png" },
      "outputFormat",
    ],
  ])("%s → 400 naming the field, nothing reserved, no KIE call", async (_name, options, field) => {
    const { token } = await h.signIn();
    const before = kieWork(h);
    const res = await generateJson(h, { prompt: "p", ...options }, { token, prefer: "wait" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.message).toContain(`${field}:`);
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(100);
  });

  it("a multipart request takes resolution too, and refuses googleSearch (google_search is never sent)", async () => {
    const { token } = await h.signIn();
    const form = new FormData();
    form.append("prompt", "multipart banana");
    form.append("model", "nano-banana-2-1");
    form.append("resolution", "4K");
    const before = kieWork(h);
    const withSearch = new FormData();
    for (const [name, value] of form) withSearch.append(name, value);
    withSearch.append("googleSearch", "false");
    const refused = await h.fetch("/api/generate", { method: "POST", token, body: withSearch });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("googleSearch");
    expect(kieWork(h)).toEqual(before);
    const res = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { prefer: "wait" },
      body: form,
    });
    const body = (await res.json()) as { taskId: string; creditsUsed: number };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(kieInputOf(h, body.taskId)).toEqual({
      model: "nano-banana-2-1",
      input: { prompt: "multipart banana", resolution: "4K" },
    });
  });
});

describeEachDatabase("POST /api/generate: Pro prices under parallel requests", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    env: {
      MODEL_CREDITS: PRICES,
      CREDITS_INITIAL: "12", // three Pro prices
      RATE_LIMIT_PER_MINUTE: "1000",
      RATE_LIMIT_IP_PER_MINUTE: "1000",
    },
  }));

  it("12 Pro requests at once on a balance of 3 Pro prices: three 202, nine 402, balance 0", async () => {
    const { token, userId } = await h.signIn();
    const before = kieWork(h).createTask;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        generateJson(h, { prompt: `pro ${i}`, model: "nano-banana-pro" }, { token, prefer: "respond-async" }),
      ),
    );
    expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.body))).toEqual([
      ...Array(3).fill(202),
      ...Array(9).fill(402),
    ]);
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted.map((a) => a.body.remainingCredits).sort((a, b) => a - b)).toEqual([0, 4, 8]);
    expect(await creditsOf(h, token)).toBe(0);
    expect(kieWork(h).createTask - before).toBe(3);
    const ledger = await jobLedgerOf(getDb(), userId);
    expect(ledger.map((row) => [row.kind, Math.abs(row.amount)])).toEqual(Array(3).fill(["reserve", 4]));
  });
});
