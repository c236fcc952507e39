/**
 * Who may generate and who may read a task: no or a bad token is 401 (and nothing reaches KIE);
 * another user's task is 404, answered exactly like a task that does not exist.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { generations } from "@/lib/db";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { creditsOf, generateJson, getStatus, kieWork, pollUntilSettled } from "./generateKit";

/** The parts of an error answer that do not change per request. */
function withoutRequestId(body: { success: boolean; error: Record<string, unknown> }) {
  const { requestId: _requestId, ...error } = body.error;
  return { ...body, error };
}

describeEachDatabase("POST /api/generate and GET /api/generate/:taskId: access", (getDb) => {
  const h = useHarness(() => ({ database: getDb() }));

  it("generate without a token, or with a bad one → 401 unauthorized, nothing sent to KIE", async () => {
    const before = kieWork(h);
    const { token } = await h.signIn();
    const tampered = `${token.slice(0, -4)}${token.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    for (const bad of [undefined, "not-a-jwt", tampered]) {
      const res = await generateJson(h, { prompt: "who am I" }, { token: bad, prefer: "wait" });
      expect(res.status, JSON.stringify(res.body)).toBe(401);
      expect(res.body).toMatchObject({ success: false, error: { code: "unauthorized" } });
      expect(res.headers.get("x-request-id")).toMatch(/\S/);
    }
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(10);
  });

  it("reading a task without a token → 401", async () => {
    const { token } = await h.signIn();
    const created = await generateJson(h, { prompt: "mine" }, { token, prefer: "respond-async" });
    expect(created.status).toBe(202);
    const res = await getStatus(h, undefined, created.body.taskId);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthorized");
  });

  it("another user's task → 404, the same answer as for an unknown id; the owner still reads it", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const created = await generateJson(
      h,
      { prompt: "private banana" },
      { token: owner.token, prefer: "wait" },
    );
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const kieTaskId: string = created.body.taskId;

    const [row] = await getDb().db.select().from(generations).where(eq(generations.kieTaskId, kieTaskId));
    expect(row).toBeDefined();

    // Someone else's task, by KIE's task id and by our job id.
    const foreignByKieId = await getStatus(h, other.token, kieTaskId);
    const foreignByJobId = await getStatus(h, other.token, row!.id);
    // Ids that exist nowhere, in both shapes.
    const unknownKieId = await getStatus(h, other.token, randomBytes(16).toString("hex"));
    const unknownJobId = await getStatus(h, other.token, randomUUID());

    for (const res of [foreignByKieId, foreignByJobId, unknownKieId, unknownJobId]) {
      expect(res.status).toBe(404);
      expect(withoutRequestId(res.body)).toEqual(withoutRequestId(unknownJobId.body));
    }
    expect(unknownJobId.body.error.code).toBe("not_found");
    expect(JSON.stringify(foreignByKieId.body)).not.toContain("private banana");

    const mine = await getStatus(h, owner.token, kieTaskId);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ status: "succeeded", prompt: "private banana" });
    expect((await getStatus(h, owner.token, row!.id)).body.taskId).toBe(kieTaskId);
  });

  it("another user's pending task is not refreshed or settled by their polls", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const created = await generateJson(
      h,
      { prompt: "pending banana" },
      { token: owner.token, prefer: "respond-async" },
    );
    expect(created.status).toBe(202);
    const readsBefore = h.sim.stats().calls.recordInfo;
    for (let i = 0; i < 3; i++)
      expect((await getStatus(h, other.token, created.body.taskId)).status).toBe(404);
    expect(h.sim.stats().calls.recordInfo).toBe(readsBefore);
    const settled = await pollUntilSettled(h, owner.token, created.body.taskId);
    expect(settled.body.status).toBe("succeeded");
  });
});
