/**
 * GET /api/generations (DESIGN.md §3): the signed-in user's jobs, newest first, a page of `limit`
 * at a time through an opaque `nextCursor` — no duplicates and no gaps, also across jobs created
 * at the very same instant — and only their own. A malformed cursor or limit is 400; no token 401.
 */
import { inArray, sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { generations } from "@/lib/db";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { jobRow, startJob } from "../jobs/jobKit";

interface Page {
  generations: { taskId: string; status: string; prompt: string; createdAt: string }[];
  nextCursor: string | null;
}

describeEachDatabase("api: GET /api/generations", (getDb) => {
  const h = useHarness(() => ({
    database: getDb(),
    env: { CREDITS_INITIAL: "100", RATE_LIMIT_PER_MINUTE: "1000", RATE_LIMIT_IP_PER_MINUTE: "1000" },
  }));

  async function list(token: string | undefined, query = ""): Promise<Response> {
    return h.fetch(`/api/generations${query}`, token ? { token } : {});
  }

  async function page(token: string, query: string): Promise<Page> {
    const response = await list(token, query);
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.success).toBe(true);
    return body as Page;
  }

  /** Follows nextCursor to the end; returns every page's task ids. */
  async function allPages(token: string, limit: number): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 50; i++) {
      const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const current = await page(token, query);
      expect(current.generations.length).toBeLessThanOrEqual(limit);
      pages.push(current.generations.map((job) => job.taskId));
      cursor = current.nextCursor;
      if (!cursor) return pages;
    }
    throw new Error("pagination did not end");
  }

  /**
   * Seven jobs for one user, four of them with the exact same created_at (as if created in the
   * same instant); returns the task ids in the order the API must list them.
   */
  async function sevenJobsWithTies(token: string): Promise<string[]> {
    const taskIds: string[] = [];
    for (let i = 0; i < 7; i++) taskIds.push((await startJob(h, token, `[sim:never] job ${i}`)).taskId);
    const rows = await Promise.all(taskIds.map((id) => jobRow(getDb(), id)));
    const tied = rows.slice(2, 6);
    await getDb()
      .db.update(generations)
      .set({ createdAt: sql`(SELECT created_at FROM ${generations} WHERE id = ${tied[0]?.id}::uuid)` })
      .where(
        inArray(
          generations.id,
          tied.map((row) => row.id),
        ),
      );
    const retimed = await Promise.all(tied.map((row) => jobRow(getDb(), row.id)));
    expect(new Set(retimed.map((row) => row.createdAt.getTime())).size).toBe(1);
    // Newest first; equal times are ordered by id, descending.
    const tiedOrder = [...tied].sort((a, b) => (a.id < b.id ? 1 : -1));
    const ordered = [rows[6], ...tiedOrder, rows[1], rows[0]];
    return ordered.map((row) => row?.kieTaskId as string);
  }

  it("lists the user's jobs newest first, paging by nextCursor with no duplicates or gaps", async () => {
    const { token } = await h.signIn();
    const expected = await sevenJobsWithTies(token);

    const everything = await page(token, "");
    expect(everything.generations.map((job) => job.taskId)).toEqual(expected);
    expect(everything.nextCursor).toBeNull();
    expect(everything.generations[0]).toMatchObject({ prompt: "[sim:never] job 6", status: "pending" });

    for (const limit of [1, 2, 3, 4, 7]) {
      const pages = await allPages(token, limit);
      expect(pages.flat(), `limit=${limit}`).toEqual(expected);
      expect(pages.length, `limit=${limit}`).toBe(Math.ceil(expected.length / limit));
    }
    // A page that ends exactly at the last job says so.
    const exact = await page(token, "?limit=7");
    expect(exact.nextCursor).toBeNull();
    const almost = await page(token, "?limit=6");
    expect(almost.nextCursor).toEqual(expect.any(String));
  });

  it("shows only the caller's own jobs, whatever cursor they send", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const ownerTasks = await sevenJobsWithTies(owner.token);
    const otherTasks = [
      (await startJob(h, other.token, "[sim:never] other 0")).taskId,
      (await startJob(h, other.token, "[sim:never] other 1")).taskId,
    ];

    expect((await page(other.token, "")).generations.map((job) => job.taskId)).toEqual(otherTasks.reverse());
    expect((await page(owner.token, "")).generations.map((job) => job.taskId)).toEqual(ownerTasks);

    // The owner's cursor in the other user's hands pages through the other user's jobs only.
    const ownerCursor = (await page(owner.token, "?limit=1")).nextCursor as string;
    const borrowed = await page(other.token, `?cursor=${encodeURIComponent(ownerCursor)}`);
    for (const job of borrowed.generations) expect(otherTasks).toContain(job.taskId);
  });

  it("answers 400 for a malformed cursor or limit, and 401 without a valid token", async () => {
    const { token } = await h.signIn();
    await startJob(h, token, "[sim:never] something to list");
    const cursors = [
      "not!base64",
      "abc",
      Buffer.from("g1:not-a-uuid").toString("base64url"),
      Buffer.from("g2:00000000-0000-4000-8000-000000000000").toString("base64url"),
      "A".repeat(200),
    ];
    for (const cursor of cursors) {
      const response = await list(token, `?cursor=${encodeURIComponent(cursor)}`);
      expect(response.status, cursor).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_request");
    }
    for (const limit of ["0", "-1", "101", "1.5", "abc", ""]) {
      const response = await list(token, `?limit=${limit}`);
      expect(response.status, `limit=${limit}`).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_request");
    }
    for (const bad of [undefined, "not-a-token"]) {
      const response = await list(bad);
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("unauthorized");
    }
  });
});
