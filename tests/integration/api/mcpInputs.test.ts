/**
 * A tool argument that the API would refuse is a tool error starting with the API's §3 code
 * (DESIGN.md §3 "MCP"), never a JavaScript message. `idempotencyKey` becomes the Idempotency-Key
 * header of the in-process API call: one with a control character (NUL, CR, LF) made Headers.set
 * throw, and the client got "Headers.set: … is an invalid header value." instead of
 * invalid_request. Nothing is charged either way.
 */
import { expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describeEachDatabase("the MCP endpoint: tool arguments the API refuses", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), env: { CREDITS_INITIAL: "5" } }));

  it("an idempotencyKey that is no header value is the tool error invalid_request; nothing is charged", async () => {
    const { token } = await h.signIn();
    const key = (
      await (
        await h.fetch("/api/keys", {
          method: "POST",
          token,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "inputs" }),
        })
      ).json()
    ).secret;
    for (const idempotencyKey of ["a\u0000b", "a\nb", "a\r\nx-injected: 1", "é"]) {
      const response = await h.fetch("/api/mcp", {
        method: "POST",
        token: key,
        headers: MCP_HEADERS,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "generate_image", arguments: { prompt: "a banana", idempotencyKey } },
        }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      const data = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? "{}");
      expect(data.result?.isError, idempotencyKey).toBe(true);
      expect(data.result.content[0].text, idempotencyKey).toMatch(/^invalid_request: /);
    }
    expect((await (await h.fetch("/api/credits", { token })).json()).balance).toBe(5);
  });
});
