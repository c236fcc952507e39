import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

/** DESIGN.md §7: one request id per call, on every log line it causes and on the response. */
describeEachDatabase("request ids", (getDb) => {
  const h = useHarness(() => ({ database: getDb() }));

  it("the caller's X-Request-Id comes back and is on every line the request wrote, down to the KIE client", async () => {
    const { token } = await h.signIn();
    const requestId = "trace-4f2a9c";
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait", "x-request-id": requestId },
      body: JSON.stringify({ prompt: "a traced banana" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe(requestId);

    const lines = h
      .logs()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { requestId?: string; msg: string; component?: string });
    const mine = lines.filter((line) => line.requestId === requestId);
    const messages = mine.map((line) => line.msg);
    expect(messages).toEqual(
      expect.arrayContaining([
        "generation accepted, credits reserved",
        "kie task created",
        "job settled",
        "request",
      ]),
    );
    expect(mine.some((line) => line.component === "kie")).toBe(true);
    // No line carries the id twice (a child binding plus the per-request stamp).
    for (const raw of h
      .logs()
      .split("\n")
      .filter((line) => line.includes(requestId))) {
      expect(raw.split(`"requestId"`).length - 1).toBe(1);
    }
  });

  it("a request without one gets a fresh id, in the answer and in the error body", async () => {
    const response = await h.fetch("/api/credits");
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await response.json()).error.requestId).toBe(id);
  });
});
