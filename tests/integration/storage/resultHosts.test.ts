/**
 * Where results may come from (DESIGN.md §6, §9; issue 22 items 14 and 15):
 * - an external simulator named by KIE_BASE_URL (no KIE_API_KEY, as `npm run sim` + `npm start`)
 *   is trusted like the embedded one: its results are copied and `imageUrl` serves them;
 * - a result on a host the guard refuses could never be shown (/api/images fetches through the
 *   same guard): the job fails and its credits are released, never charged.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, jobRow, ledgerOf } from "../jobs/jobKit";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const env = { IMAGE_URL_SECRET: "result-hosts-test-secret-0123456789abcdef", CREDITS_INITIAL: "3" };

async function generate(h: Harness, token: string, prompt: string) {
  const response = await h.fetch("/api/generate", {
    method: "POST",
    token,
    headers: { "content-type": "application/json", prefer: "wait" },
    body: JSON.stringify({ prompt }),
  });
  return { status: response.status, body: await response.json() };
}

describeEachDatabase("an external simulator named by KIE_BASE_URL", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    // The simulator runs on its own loopback port; the app is told of it only by KIE_BASE_URL.
    h = await startHarness({ database: getDb(), env });
  });
  afterAll(() => h?.close());

  it("is trusted: the result is copied into our store and imageUrl serves it", async () => {
    const { token } = await h.signIn();
    const { status, body } = await generate(h, token, "a banana from the external simulator");
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.imageStored).toBe(true);
    const original = Buffer.from(await (await fetch(body.sourceUrl)).arrayBuffer());
    const served = await h.fetch(
      new URL(body.imageUrl, "http://localhost").pathname + new URL(body.imageUrl, "http://localhost").search,
    );
    expect(served.status).toBe(200);
    expect(sha(Buffer.from(await served.arrayBuffer()))).toBe(sha(original));
    expect((await jobRow(getDb(), body.taskId)).imageSha256).toBe(sha(original));
  });
});

describeEachDatabase("a result on a host the guard refuses", (getDb) => {
  let h: Harness;
  beforeAll(async () => {
    // KIE hands out result URLs on plain http at another origin (loopback, nothing listens):
    // neither allowed nor the trusted simulator, so the guard refuses it before any connection.
    h = await startHarness({ database: getDb(), env, sim: { publicUrl: "http://localhost:9" } });
  });
  afterAll(() => h?.close());

  it("fails the job and releases the credits, with a line telling the operator why", async () => {
    const { token } = await h.signIn();
    const { status, body } = await generate(h, token, "a banana from elsewhere");
    expect(status, JSON.stringify(body)).toBe(502);
    expect(body.error.code).toBe("upstream_error");
    const row = await jobRow(getDb(), body.error.taskId);
    expect(row.status).toBe("failed");
    expect(await ledgerOf(getDb(), row.id)).toEqual({ reserve: 1, release: 1 });
    expect(await creditsOf(h, token)).toBe(3);
    expect(h.logs()).toContain("IMAGE_PROXY_ALLOWED_HOSTS");
  });
});
