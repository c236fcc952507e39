/**
 * Secrets never reach a log or a response (DESIGN.md §6), over a whole run of the generate flow:
 * successes, edits with uploads, KIE failures and outages, retries, timeouts, refusals and replays.
 * Checked: the KIE API key, the dev signing secret (every encoding), users' access tokens (no log
 * line; no answer but the sign-in that issues them) and, with callbacks on, each job's callback token.
 */

import { describe, expect, it } from "vitest";
import { type Harness, useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  type Answer,
  dataUri,
  generateJson,
  generateMultipart,
  getStatus,
  pngImage,
  pollUntilSettled,
} from "./generateKit";

const KIE_KEY = "sk-live-distinctive-7f3a9c1e5b2d4680aa11bb22cc33dd44";

/** Every form in which the dev signing secret could leak. */
function secretForms(secret: Uint8Array): string[] {
  const bytes = Buffer.from(secret);
  return [bytes.toString("base64url"), bytes.toString("base64"), bytes.toString("hex")];
}

/** The parts of a token that only its holder knows: all of it, and its signature. */
function tokenForms(token: string): string[] {
  return [token, token.split(".")[2] ?? token];
}

/** An answer as text: status line, headers and body. */
function transcript(answer: Answer): string {
  return `${answer.status}\n${[...answer.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${
    typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body)
  }`;
}

function expectAbsent(haystack: string, needles: string[], where: string): void {
  for (const needle of needles) {
    expect(needle.length).toBeGreaterThanOrEqual(16);
    expect(haystack.includes(needle), `a secret (${needle.slice(0, 4)}…) appears in ${where}`).toBe(false);
  }
}

async function signInWithAnswer(h: Harness): Promise<{ token: string; answer: Answer }> {
  const response = await h.fetch("/api/auth/dev", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `secret-${Math.random().toString(36).slice(2)}@example.com` }),
  });
  const answer: Answer = { status: response.status, headers: response.headers, body: await response.json() };
  expect(answer.status).toBe(200);
  return { token: answer.body.accessToken as string, answer };
}

/** A result KIE made on a host the app does not fetch from (the sim's loopback address): 502, not charged. */
const REFUSED_RESULT = 502;

describeEachDatabase("secrets stay out of logs and answers", (getDb) => {
  describe("a whole run against KIE with a real-looking key", () => {
    const h = useHarness(() => ({
      database: getDb(),
      env: {
        KIE_API_KEY: KIE_KEY,
        DEV_SIGN_IN: "true",
        KIE_POLL_BUDGET_MS: "1500",
        KIE_TIMEOUT_MS: "60000",
        RATE_LIMIT_PER_MINUTE: "1000",
      },
      // kie-sim accepts only this key: every successful call below proves it was sent.
      sim: { apiKeys: [KIE_KEY] },
    }));

    it("the KIE key, the dev secret and access tokens appear in no log line and no answer", async () => {
      expect(h.app.kieMode).toBe("kie");
      const devSecret = h.app.devSecret;
      expect(devSecret).toBeDefined();

      const signInAnswers: Answer[] = [];
      const answers: Answer[] = [];
      const alice = await signInWithAnswer(h);
      const bob = await signInWithAnswer(h);
      signInAnswers.push(alice.answer, bob.answer);
      const token = alice.token;
      const png = await pngImage();
      const run = async (answer: Promise<Answer>) => {
        const done = await answer;
        answers.push(done);
        return done;
      };

      // KIE's successes: sync, async (polled, with KIE status reads failing twice first), edits.
      // Talking to KIE, the app trusts no loopback host: the sim's results are refused, and such
      // a job fails uncharged (DESIGN.md §9) after every KIE call has carried the key.
      expect((await run(generateJson(h, { prompt: "sync" }, { token, prefer: "wait" }))).status).toBe(
        REFUSED_RESULT,
      );
      h.sim.setFaults("recordInfo:http=500;times=2");
      const accepted = await run(generateJson(h, { prompt: "async" }, { token, prefer: "respond-async" }));
      expect(accepted.status).toBe(202);
      answers.push(await pollUntilSettled(h, token, accepted.body.taskId));
      h.sim.setFaults([]);
      const form = new FormData();
      form.append("prompt", "edit");
      form.append("images", new Blob([new Uint8Array(png)], { type: "image/png" }), "a.png");
      expect((await run(generateMultipart(h, form, { token, prefer: "wait" }))).status).toBe(REFUSED_RESULT);
      expect(
        (
          await run(
            generateJson(
              h,
              { prompt: "edit", images: [dataUri("image/png", png)] },
              { token, prefer: "wait" },
            ),
          )
        ).status,
      ).toBe(REFUSED_RESULT);

      // KIE failing, refusing and breaking.
      expect(
        (await run(generateJson(h, { prompt: "x [sim:fail=policy]" }, { token, prefer: "wait" }))).status,
      ).toBe(422);
      for (const [rule, status] of [
        ["createTask:http=500", 502],
        ["createTask:malformed=html", 502],
        ["createTask:malformed=json", 502],
        ["createTask:body-code=402", 502],
        ["createTask:http=401", 502],
        ["upload:http=401", 502],
        // Last: KIE's 429 puts the job in line for KIE's 45 s (a sync wait ends in 504).
        ["createTask:http=429;retry-after=45", 504],
      ] as const) {
        h.sim.setFaults(rule);
        const multipart = new FormData();
        multipart.append("prompt", `under ${rule}`);
        multipart.append("images", new Blob([new Uint8Array(png)], { type: "image/png" }), "b.png");
        const res = await run(generateMultipart(h, multipart, { token, prefer: "wait" }));
        expect(res.status, `${rule}: ${JSON.stringify(res.body)}`).toBe(status);
      }
      h.sim.setFaults([]);
      const endless = await run(generateJson(h, { prompt: "x [sim:never]" }, { token, prefer: "wait" }));
      expect(endless.status).toBe(504);

      // Refusals, replays, foreign and unknown tasks, the balance.
      expect((await run(generateJson(h, { prompt: " " }, { token }))).status).toBe(400);
      expect((await run(generateJson(h, { prompt: "x" }, { token: "garbage.token.here" }))).status).toBe(401);
      const tampered = `${token.slice(0, -6)}AAAAAA`;
      expect((await run(generateJson(h, { prompt: "x" }, { token: tampered }))).status).toBe(401);
      for (let i = 0; i < 2; i++) {
        await run(
          generateJson(h, { prompt: "replayed" }, { token, prefer: "respond-async", idempotencyKey: "k" }),
        );
      }
      expect((await run(getStatus(h, bob.token, accepted.body.taskId))).status).toBe(404);
      const credits = await h.fetch("/api/credits", { token });
      answers.push({ status: credits.status, headers: credits.headers, body: await credits.text() });

      // The run really went through KIE with the key.
      expect(h.sim.stats().authFailures).toBe(0);
      expect(h.sim.stats().tasksSucceeded).toBeGreaterThanOrEqual(4);
      const logs = h.logs();
      expect(logs).toContain("KIE task created");
      expect(logs).toContain("kie request retry");

      const keyAndSecret = [KIE_KEY, ...secretForms(devSecret as Uint8Array)];
      const tokens = [...tokenForms(alice.token), ...tokenForms(bob.token)];
      expectAbsent(logs, [...keyAndSecret, ...tokens], "the logs");
      expectAbsent(answers.map(transcript).join("\n"), [...keyAndSecret, ...tokens], "an answer");
      // Sign-in hands out the token (its job), and nothing else secret.
      expectAbsent(signInAnswers.map(transcript).join("\n"), keyAndSecret, "a sign-in answer");
    });
  });

  describe("with KIE callbacks (APP_URL set)", () => {
    const h = useHarness(() => ({
      database: getDb(),
      callbacks: true,
      env: { KIE_API_KEY: KIE_KEY, DEV_SIGN_IN: "true" },
    }));

    it("each job's callback token stays out of the logs and the answers", async () => {
      const { token } = await h.signIn();
      const answers: Answer[] = [];
      answers.push(await generateJson(h, { prompt: "called back" }, { token, prefer: "wait" }));
      answers.push(
        await generateJson(h, { prompt: "called back, failed [sim:fail]" }, { token, prefer: "wait" }),
      );
      expect(answers.map((a) => a.status)).toEqual([REFUSED_RESULT, 422]);

      const callbackTokens = h.sim.tasks().map((task) => {
        expect(task.callBackUrl).toBeDefined();
        return new URL(task.callBackUrl as string).searchParams.get("token") as string;
      });
      expect(callbackTokens).toHaveLength(2);
      expect(h.sim.stats().callbacksSent).toBeGreaterThanOrEqual(1);
      expectAbsent(h.logs(), [KIE_KEY, ...callbackTokens], "the logs");
      expectAbsent(answers.map(transcript).join("\n"), [KIE_KEY, ...callbackTokens], "an answer");
    });
  });
});
