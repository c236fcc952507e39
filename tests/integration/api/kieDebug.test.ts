/**
 * POST /api/generate/kie, the raw KIE pass-through (DESIGN.md §3): it does not exist (404) unless
 * KIE_DEBUG_ROUTE=true; then it is 401 without sign-in, 403 for a user who is not an admin (a dev
 * sign-in never is, DESIGN §6), and for a Supabase admin it creates and reads KIE tasks — without
 * touching anyone's credits, and without ever showing a job's callback token.
 */
import { SignJWT } from "jose";
import { afterEach, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, eventually, startJob } from "../jobs/jobKit";

const ADMIN = "ops-admin@example.com";
const SECRET = "debug-route-test-secret-with-at-least-32-chars";
const ADMIN_ID = "2b7e1516-28ae-4d2a-a6ab-f7158809cf4f";
const USER_ID = "3c8f2627-39bf-4e3b-b7bc-08269910d05a";

/**
 * A Supabase access token (legacy HS256 secret), as the project would issue it with a Custom
 * Access Token Hook that adds `email_verified` (what ADMIN_EMAILS needs, DESIGN §6).
 */
function supabaseToken(sub: string, email: string, appMetadata: Record<string, unknown> = {}) {
  return new SignJWT({
    email,
    email_verified: true,
    role: "authenticated",
    app_metadata: { provider: "email", ...appMetadata },
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setAudience("authenticated")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));
}

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
    const harness = await startHarness({
      database: getDb(),
      env: { ADMIN_EMAILS: ADMIN, SUPABASE_JWT_SECRET: SECRET },
    });
    h = harness;
    const admin = await supabaseToken(ADMIN_ID, ADMIN);
    for (const token of [admin, undefined]) {
      const response = await debug(harness, { createTask: { prompt: "should not exist" } }, token);
      expect(response.status).toBe(404);
      expect((await response.json()).error.code).toBe("not_found");
    }
    expect(harness.sim.stats().calls.createTask).toBe(0);
  });

  it("dev sign-in never makes an admin: an ADMIN_EMAILS address signed in by dev sign-in gets 403", async () => {
    const harness = await startHarness({
      database: getDb(),
      env: { ADMIN_EMAILS: ADMIN, KIE_DEBUG_ROUTE: "true" },
    });
    h = harness;
    const claimed = await harness.signIn(ADMIN);
    const me = await (await harness.fetch("/api/me", { token: claimed.token })).json();
    expect(me.user.isAdmin).toBe(false);
    const response = await debug(harness, { createTask: { prompt: "free images, please" } }, claimed.token);
    expect(response.status).toBe(403);
    expect(harness.sim.stats().calls.createTask).toBe(0);
  });

  it("when enabled: 401 anonymous, 403 for a non-admin, 200 for an admin (no credits used)", async () => {
    const harness = await startHarness({
      database: getDb(),
      env: {
        ADMIN_EMAILS: `someone@example.com,${ADMIN}`,
        KIE_DEBUG_ROUTE: "true",
        SUPABASE_JWT_SECRET: SECRET,
      },
    });
    h = harness;

    const anonymous = await debug(harness, { createTask: { prompt: "who am I" } });
    expect(anonymous.status).toBe(401);

    const user = { token: await supabaseToken(USER_ID, "not-an-admin@example.com") };
    const refused = await debug(harness, { createTask: { prompt: "let me in" } }, user.token);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("forbidden");
    const peek = await debug(harness, { taskId: "anything" }, user.token);
    expect(peek.status).toBe(403);
    expect(harness.sim.stats().calls).toMatchObject({ createTask: 0, recordInfo: 0 });

    const admin = { token: await supabaseToken(ADMIN_ID, ADMIN.toUpperCase()) };
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

  it("an admin by app_metadata.role reads another user's task, but never its callback token", async () => {
    const harness = await startHarness({
      database: getDb(),
      callbacks: true, // APP_URL set: the job's callBackUrl (with its token) goes to KIE
      env: { KIE_DEBUG_ROUTE: "true", SUPABASE_JWT_SECRET: SECRET },
    });
    h = harness;
    const owner = await supabaseToken(USER_ID, "owner@example.com");
    const job = await startJob(harness, owner, "someone's private image");
    const kieTaskId = await eventually(
      "the job's KIE task",
      async () => [...harness.sim.tasks()].find((t) => t.prompt === "someone's private image")?.taskId,
      (id) => id !== undefined,
    );
    expect(job.taskId).toBeTruthy();
    const admin = await supabaseToken(ADMIN_ID, "ops@example.com", { role: "admin" });
    // Right after createTask KIE (and kie-sim) may not have written the task's record yet.
    const { response, text } = await eventually(
      "the task's record, read through the debug route",
      async () => {
        const response = await debug(harness, { taskId: kieTaskId }, admin);
        return { response, text: await response.text() };
      },
      ({ response, text }) => response.status !== 200 || text.includes("callBackUrl"),
    );
    expect(response.status, text).toBe(200);
    expect(text).toContain("callBackUrl");
    expect(text).toContain("token=[redacted]");
    expect(text).not.toMatch(/token=(?!\[redacted\])/);
  });
});
