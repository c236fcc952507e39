/**
 * A NUL character (U+0000) in a request's text. Postgres text cannot hold one: before, a prompt,
 * an API key's name, a task id in a path, in `?taskIds=` or as `sourceTaskId` reached a query as
 * it was and the answer was 500 internal_error (logged as our failure). Text we store is refused
 * with 400 (zod at the edge); an id with a NUL names no job: not found, like any unknown id.
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const JSON_HEADERS = { "content-type": "application/json" };

describeEachDatabase("api: a NUL character in a request is the client's error, never a 500", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), env: { CREDITS_INITIAL: "5" } }));

  const balance = async (token: string) =>
    ((await (await h.fetch("/api/credits", { token })).json()) as { balance: number }).balance;

  it("a prompt with a NUL is 400, a sourceTaskId with one 404 (no such job); nothing is charged", async () => {
    const { token } = await h.signIn();
    for (const [fields, status] of [
      [{ prompt: "a\u0000banana" }, 400],
      // Like any unknown source job.
      [{ prompt: "a banana", sourceTaskId: "x\u0000y" }, 404],
    ] as const) {
      const response = await h.fetch("/api/generate", {
        method: "POST",
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify(fields),
      });
      expect(response.status, JSON.stringify(fields)).toBe(status);
    }
    const form = new FormData();
    form.set("prompt", "a\u0000banana");
    const multipart = await h.fetch("/api/generate", { method: "POST", token, body: form });
    expect(multipart.status).toBe(400);
    expect(await balance(token)).toBe(5);
  });

  it("an API key named with a NUL is 400, and no key is made", async () => {
    const { token } = await h.signIn();
    const response = await h.fetch("/api/keys", {
      method: "POST",
      token,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "ci\u0000key" }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("invalid_request");
    expect((await (await h.fetch("/api/keys", { token })).json()).keys).toEqual([]);
  });

  it("a task id with a NUL is not found: in a path (404) and in ?taskIds= (notFound)", async () => {
    const { token } = await h.signIn();
    for (const [method, path] of [
      ["GET", "/api/generate/a%00b"],
      ["GET", "/api/generations/a%00b"],
      ["DELETE", "/api/generations/a%00b"],
    ] as const) {
      const response = await h.fetch(path, { method, token });
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const watched = await h.fetch("/api/generations?taskIds=a%00b,other", { token });
    expect(watched.status).toBe(200);
    expect((await watched.json()).notFound).toEqual(["a\u0000b", "other"]);
  });
});
