/**
 * One JSON-RPC message per POST to /api/mcp (DESIGN.md §3 "MCP"). The SDK accepts batches of up
 * to 100 messages, and each tool call in one is a full call of the API made in-process: one HTTP
 * request would be up to 100 generations, long-polls or image reads at once, bounded by nothing
 * for an OAuth token. Batches left the protocol in 2025-06-18 and no SDK client sends them.
 */

/** JSON's insignificant whitespace (RFC 8259 §2): what may come before a batch's `[`. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const OPEN_BRACKET = 0x5b;

/** True when the body is a JSON-RPC batch (a JSON array), whatever it holds. */
export function isJsonRpcBatch(body: Uint8Array): boolean {
  for (const byte of body) {
    if (WHITESPACE.has(byte)) continue;
    return byte === OPEN_BRACKET;
  }
  return false;
}

/** The answer to a batch: JSON-RPC "Invalid Request" (-32600), as the SDK answers a bad message. */
export function batchRefusal(): Response {
  return Response.json(
    {
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32600,
        message: "Invalid Request: send one JSON-RPC message per request (batches are not accepted).",
      },
    },
    { status: 400 },
  );
}
