/**
 * POST /api/generate/kie, the raw KIE pass-through (DESIGN.md §3): it does not exist (404) unless
 * KIE_DEBUG_ROUTE=true; then it is 401 without sign-in, 403 for a user not in ADMIN_EMAILS, and
 * for an admin it creates and reads KIE tasks — without touching anyone's credits.
 */
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, eventually } from "../jobs/jobKit";

const ADMIN = "ops-admin@example.com";

describeEachDatabase("api: POST /api/generate/kie", (getDb) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const debug = (harness: Harness, body: unknown, token?: string) =>
    harness.fetch("/api/generate/kie", {
      method: "POST",
      ...(token && { token }),
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("is 404 unless KIE_DEBUG_ROUTE=true, even for an admin", async () => {
    const harness = await startHarness({ database: getDb(), env: { ADMIN_EMAILS: ADMIN } });
    h = harness;
    const admin = await harness.signIn(ADMIN);
    for (const token of [admin.token, undefined]) {
      const response = await debug(harness, { createTask: { prompt: "should not exist" } }, token);
      expect(response.status).toBe(404);
      expect((await response.json()).error.code).toBe("not_found");
    }
    expect(harness.sim.stats().calls.createTask).toBe(0);
  });

  it("when enabled: 401 anonymous, 403 for a non-admin, 200 for an admin (no credits used)", async () => {
    const harness = await startHarness({
      database: getDb(),
      env: { ADMIN_EMAILS: `someone@example.com,${ADMIN}`, KIE_DEBUG_ROUTE: "true" },
    });
    h = harness;

    const anonymous = await debug(harness, { createTask: { prompt: "who am I" } });
    expect(anonymous.status).toBe(401);

    const user = await harness.signIn("not-an-admin@example.com");
    const refused = await debug(harness, { createTask: { prompt: "let me in" } }, user.token);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("forbidden");
    const peek = await debug(harness, { taskId: "anything" }, user.token);
    expect(peek.status).toBe(403);
    expect(harness.sim.stats().calls).toMatchObject({ createTask: 0, recordInfo: 0 });

    const admin = await harness.signIn(ADMIN.toUpperCase());
    const created = await debug(harness, { createTask: { prompt: "an operator's test image" } }, admin.token);
    const createdBody = await created.json();
    expect(created.status, JSON.stringify(createdBody)).toBe(200);
    expect(createdBody).toMatchObject({ success: true, taskId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(harness.sim.task(createdBody.taskId)?.prompt).toBe("an operator's test image");

    const record = await eventually(
      "the task to finish, read through the debug route",
      async () => (await (await debug(harness, { taskId: createdBody.taskId }, admin.token)).json()).record,
      (r: { state: string; resultUrls?: string[] }) => r.state === "success",
      { attempts: 100, intervalMs: 30 },
    );
    expect(record).toMatchObject({ taskId: createdBody.taskId, state: "success" });
    expect(record.resultUrls).toEqual([harness.sim.task(createdBody.taskId)?.resultUrl]);

    const malformed = await debug(harness, { createTask: { prompt: "x" }, taskId: "both" }, admin.token);
    expect(malformed.status).toBe(400);

    // Pass-through: no job, no credits moved.
    expect(await creditsOf(harness, admin.token)).toBe(10);
    expect(await creditsOf(harness, user.token)).toBe(10);
  });
});
