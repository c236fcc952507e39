import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

describeEachDatabase("generate: smoke", (getDb) => {
  const h = useHarness(() => ({ database: getDb() }));

  it("sync text-to-image succeeds and charges one credit", async () => {
    const { token } = await h.signIn();
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "a banana astronaut", aspectRatio: "16:9" }),
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ success: true, status: "succeeded", creditsUsed: 1, remainingCredits: 9 });
    expect(body.imageUrl).toMatch(/^\/api\/images\//); // our stored copy (DESIGN.md §9)
  });

  it("async: 202, then polled to success", async () => {
    const { token } = await h.signIn();
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ prompt: "a banana astronaut" }),
    });
    const accepted = await response.json();
    expect(response.status, JSON.stringify(accepted)).toBe(202);
    expect(response.headers.get("location")).toBe(accepted.statusUrl);
    let status: { status: string; imageUrl?: string; creditsUsed?: number } = { status: "pending" };
    for (let i = 0; i < 50 && (status.status === "pending" || status.status === "processing"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await (await h.fetch(accepted.statusUrl, { token })).json();
    }
    expect(status).toMatchObject({ status: "succeeded", creditsUsed: 1 });
  });
});
