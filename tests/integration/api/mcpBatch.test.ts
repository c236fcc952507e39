/**
 * /api/mcp takes one JSON-RPC message per POST. The SDK accepts batches of up to 100, and every
 * tool call in one is a full call of this API made in-process: a single HTTP request became up to
 * 100 generations, status long-polls or image reads at once, and with an OAuth token (no per-key
 * limit) nothing bounded them — five such requests slowed another user's GET /api/credits from
 * 30 ms to 18 s on a loopback server. Batches left the protocol in 2025-06-18; they are refused
 * whole (400, JSON-RPC -32600) and none of their calls run.
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describeEachDatabase("the MCP endpoint: one message per request", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), env: { CREDITS_INITIAL: "5" } }));

  async function signedInKey(): Promise<{ token: string; key: string }> {
    const { token } = await h.signIn();
    const response = await h.fetch("/api/keys", {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "batch" }),
    });
    return { token, key: (await response.json()).secret };
  }

  const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  });

  it("refuses a JSON-RPC batch whole (400, -32600): none of its tool calls runs, nothing is charged", async () => {
    const { token, key } = await signedInKey();
    const batch = [
      call(1, "generate_image", { prompt: "one banana" }),
      call(2, "generate_image", { prompt: "two bananas" }),
    ];
    const response = await h.fetch("/api/mcp", {
      method: "POST",
      token: key,
      headers: MCP_HEADERS,
      body: JSON.stringify(batch),
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
    expect(body.error.message).toMatch(/one JSON-RPC message/);
    const credits = await (await h.fetch("/api/credits", { token })).json();
    expect(credits.balance).toBe(5);
    const jobs = await (await h.fetch("/api/generations", { token })).json();
    expect(jobs.generations).toEqual([]);

    // One message per request is answered as before.
    const single = await h.fetch("/api/mcp", {
      method: "POST",
      token: key,
      headers: MCP_HEADERS,
      body: JSON.stringify(call(3, "get_credits")),
    });
    expect(single.status).toBe(200);
    expect(await single.text()).toContain('"balance":5');
  });
});
