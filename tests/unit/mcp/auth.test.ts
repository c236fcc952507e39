/**
 * /api/mcp as a protected resource (issue 29): the challenge, the metadata document and which
 * bearers are MCP credentials; and what a tool result carries (links, never full images).
 */
import { describe, expect, it } from "vitest";
import {
  acceptedOnMcp,
  mcpChallenge,
  protectedResourceMetadata,
  protectedResourceMetadataHeaders,
  publicOrigin,
} from "@/lib/mcp/auth";
import { generationOutput, jobOutput, toolResult } from "@/lib/mcp/results";

describe("the protected resource", () => {
  it("names the metadata document in the challenge, at the public origin", () => {
    const asked = new Request("http://localhost:3000/api/mcp", { headers: { host: "127.0.0.1:4000" } });
    expect(publicOrigin(asked, "https://studio.example.com/")).toBe("https://studio.example.com");
    expect(publicOrigin(asked, undefined)).toBe("http://127.0.0.1:4000");
    expect(publicOrigin(new Request("http://localhost:3000/api/mcp"), undefined)).toBe(
      "http://localhost:3000",
    );
    expect(mcpChallenge("https://studio.example.com")).toBe(
      'Bearer resource_metadata="https://studio.example.com/.well-known/oauth-protected-resource"',
    );
  });

  it("writes no Host that is not a host name into the challenge (without APP_URL the Host is the client's)", () => {
    for (const host of [
      'evil.example" error="invalid_token',
      "evil.example/x",
      "a b",
      "u@evil.example",
      "",
    ]) {
      const asked = new Request("http://localhost:3000/api/mcp", { headers: { host } });
      const origin = publicOrigin(asked, undefined);
      expect(origin, host).toBe("http://localhost:3000");
      expect(mcpChallenge(origin), host).toBe(
        'Bearer resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource"',
      );
    }
    for (const host of ["studio.example.com", "studio.example.com:8443", "[::1]:3000", "127.0.0.1"]) {
      const asked = new Request("http://localhost:3000/api/mcp", { headers: { host } });
      expect(publicOrigin(asked, undefined), host).toBe(`http://${host}`);
    }
  });

  it("has its cached document keyed by Host when it is built from the Host (no APP_URL)", () => {
    const fromHost = protectedResourceMetadataHeaders(undefined);
    expect(fromHost.get("vary")).toBe("Host");
    expect(fromHost.get("cache-control")).toBe("public, max-age=300");
    expect(protectedResourceMetadataHeaders("https://studio.example.com").get("vary")).toBeNull();
  });

  it("names the Supabase project's auth server when there is one", () => {
    expect(protectedResourceMetadata("https://s.example", "https://abc.supabase.co")).toMatchObject({
      resource: "https://s.example/api/mcp",
      authorization_servers: ["https://abc.supabase.co/auth/v1"],
      bearer_methods_supported: ["header"],
    });
    expect(protectedResourceMetadata("https://s.example", undefined).authorization_servers).toEqual([]);
  });

  it("takes API keys and OAuth tokens, never a plain session token", () => {
    expect(acceptedOnMcp({ id: "u", isAdmin: false, apiKeyId: "k" })).toBe(true);
    expect(acceptedOnMcp({ id: "u", isAdmin: false, clientId: "claude" })).toBe(true);
    expect(acceptedOnMcp({ id: "u", isAdmin: true })).toBe(false);
  });
});

describe("tool results", () => {
  const origin = "https://s.example";
  it("links every image by its absolute signed URL and inlines at most the thumbnail it is given", () => {
    const output = generationOutput(
      [
        {
          taskId: "t1",
          status: "succeeded",
          images: ["/api/images/t1?sig=x"],
          creditsUsed: 4,
          remainingCredits: 6,
        },
      ],
      origin,
      6,
    );
    expect(output).toMatchObject({
      taskId: "t1",
      status: "succeeded",
      creditsCharged: 4,
      remainingCredits: 6,
    });
    const result = toolResult(output, { data: "AAAA", mimeType: "image/webp" });
    expect(result.content.map((item) => item.type)).toEqual(["text", "resource_link", "image"]);
    expect(result.content[1]).toMatchObject({ uri: "https://s.example/api/images/t1?sig=x" });
    expect(toolResult(output).content.map((item) => item.type)).toEqual(["text", "resource_link"]);
  });

  it("an open job is pending with what to do next; a failed one charges 0 and says why", () => {
    const open = generationOutput([{ taskId: "t2", status: "processing" }], origin, 9);
    expect(open).toMatchObject({
      status: "processing",
      creditsCharged: 0,
      next: expect.stringMatching(/get_generation.*t2/),
    });
    expect(jobOutput({ taskId: "t2", status: "processing" }, origin).creditsCharged).toBeNull();
    const failed = jobOutput(
      { taskId: "t3", status: "failed", error: { code: "generation_failed", message: "policy" } },
      origin,
    );
    expect(failed).toMatchObject({ creditsCharged: 0, images: [], error: { message: "policy" } });
  });
});
