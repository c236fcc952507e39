/**
 * /api/mcp with the MCP SDK's own client over loopback HTTP (issue 29): the tools are listed,
 * generate_image makes an image against kie-sim end to end and get_generation reads it back, the
 * result stays small (links, one thumbnail), the charge is the API's, and authorization follows
 * the MCP spec (401 + resource_metadata; keys and OAuth tokens only; others' jobs not found).
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { sql } from "drizzle-orm";
import { SignJWT } from "jose";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { DEV_TOKEN_ISSUER } from "@/lib/auth";
import { auditLedger } from "@/lib/credits/audit";
import { type Harness, useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import { dataUri, kieInputOf, pngImage, waitFor } from "../generate/generateKit";

const JSON_HEADERS = { "content-type": "application/json" };

describeEachDatabase("the MCP endpoint", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), callbacks: true }));
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  async function keyFor(token: string, on: Harness = h): Promise<string> {
    const response = await on.fetch("/api/keys", {
      method: "POST",
      token,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "mcp" }),
    });
    return (await response.json()).secret;
  }

  async function connect(bearer: string, on: Harness = h): Promise<Client> {
    const client = new Client({ name: "test-client", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${on.url}/api/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tool results are plain JSON.
  type Result = any;

  async function ledgerOf(taskId: string): Promise<{ kind: string; amount: number }[]> {
    const result = await getDb().db.execute(
      sql`SELECT l.kind, l.amount FROM nano_banana.credit_ledger l JOIN nano_banana.generations g
          ON g.id = l.generation_id WHERE g.id::text = ${taskId} OR g.kie_task_id = ${taskId} ORDER BY l.kind`,
    );
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      kind: string;
      amount: number;
    }[];
    return rows.map((row) => ({ kind: row.kind, amount: Number(row.amount) }));
  }

  it("lists its tools; generate_image states its price and is neither read-only nor idempotent", async () => {
    const { token } = await h.signIn();
    const client = await connect(await keyFor(token));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      "generate_image",
      "get_credits",
      "get_generation",
      "list_generations",
      "list_models",
    ]);
    const generate = tools.find((tool) => tool.name === "generate_image");
    expect(generate?.description).toMatch(/nano-banana: 1 credit/);
    expect(generate?.annotations).toMatchObject({ readOnlyHint: false, idempotentHint: false });
    expect(Object.keys(generate?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining([
        "prompt",
        "model",
        "aspectRatio",
        "resolution",
        "n",
        "references",
        "sourceTaskId",
      ]),
    );
  });

  it("generates an image end to end, reads it back, stays small, and charges exactly like the API", async () => {
    const { token } = await h.signIn();
    const client = await connect(await keyFor(token));
    const result: Result = await client.callTool({
      name: "generate_image",
      arguments: { prompt: "a banana on the moon", aspectRatio: "16:9" },
    });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent;
    expect(out).toMatchObject({ status: "succeeded", creditsCharged: 1, remainingCredits: 9 });
    expect(JSON.stringify(result).length).toBeLessThan(100_000);

    const links = result.content.filter((item: { type: string }) => item.type === "resource_link");
    expect(links).toHaveLength(1);
    expect(links[0].uri).toBe(out.jobs[0].images[0]);
    const image = await fetch(links[0].uri); // a signed link: no header needed
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    const inline = result.content.filter((item: { type: string }) => item.type === "image");
    expect(inline).toHaveLength(1); // the stored 256-px thumbnail, never the full image
    for (const thumb of inline) {
      const { width, height } = await sharp(Buffer.from(thumb.data, "base64")).metadata();
      expect(Math.max(width ?? 0, height ?? 0)).toBeLessThanOrEqual(512);
    }

    const again: Result = await client.callTool({
      name: "get_generation",
      arguments: { taskId: out.taskId },
    });
    expect(again.structuredContent).toMatchObject({
      taskId: out.taskId,
      status: "succeeded",
      creditsCharged: 1,
    });
    const credits: Result = await client.callTool({ name: "get_credits", arguments: {} });
    expect(credits.structuredContent).toEqual({ balance: 9 });
    const listed: Result = await client.callTool({ name: "list_generations", arguments: {} });
    expect(listed.structuredContent.generations.map((g: { taskId: string }) => g.taskId)).toEqual([
      out.taskId,
    ]);

    // The same request through POST /api/generate: the same ledger rows, and the books balance.
    const api = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { ...JSON_HEADERS, prefer: "wait" },
      body: JSON.stringify({ prompt: "a banana on the moon", aspectRatio: "16:9" }),
    });
    const apiJob = await api.json();
    expect(apiJob.status).toBe("succeeded");
    expect(await ledgerOf(out.taskId)).toEqual(await ledgerOf(apiJob.taskId));
    expect(await ledgerOf(out.taskId)).toEqual([
      { kind: "capture", amount: 1 },
      { kind: "reserve", amount: 1 },
    ]);
    expect((await auditLedger(getDb().db)).problems).toEqual([]);
  });

  it("answers 401 with the resource metadata challenge; the metadata names the resource", async () => {
    const bare = await fetch(`${h.url}/api/mcp`, {
      method: "POST",
      headers: { ...JSON_HEADERS, accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(bare.status).toBe(401);
    const challenge = bare.headers.get("www-authenticate") ?? "";
    expect(challenge).toBe(`Bearer resource_metadata="${h.url}/.well-known/oauth-protected-resource"`);
    const metadata = await (await fetch(`${h.url}/.well-known/oauth-protected-resource`)).json();
    expect(metadata).toMatchObject({ resource: `${h.url}/api/mcp`, bearer_methods_supported: ["header"] });

    // A plain session token (no client_id) is not an MCP credential; a revoked key is not either.
    const { token } = await h.signIn();
    await expect(connect(token)).rejects.toThrow();
    const byToken = await fetch(`${h.url}/api/mcp`, {
      method: "POST",
      headers: {
        ...JSON_HEADERS,
        authorization: `Bearer ${token}`,
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(byToken.status).toBe(401);
    expect(byToken.headers.get("www-authenticate")).toMatch(/resource_metadata=/);
  });

  it("takes an OAuth access token that names its client (client_id), as that user", async () => {
    const { userId } = await h.signIn();
    const now = Math.floor(Date.now() / 1000);
    const oauth = await new SignJWT({
      role: "authenticated",
      client_id: "claude-desktop",
      email: "o@example.com",
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setAudience("authenticated")
      .setIssuer(DEV_TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(h.app.devSecret!);
    const client = await connect(oauth);
    const credits: Result = await client.callTool({ name: "get_credits", arguments: {} });
    expect(credits.structuredContent).toEqual({ balance: 10 });
  });

  it("another user's job is not found; nothing about it leaks", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const created = await h.fetch("/api/generate", {
      method: "POST",
      token: owner.token,
      headers: { ...JSON_HEADERS, prefer: "wait" },
      body: JSON.stringify({ prompt: "mine only" }),
    });
    const { taskId } = await created.json();
    const client = await connect(await keyFor(other.token));
    const result: Result = await client.callTool({ name: "get_generation", arguments: { taskId } });
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/^not_found/);
    expect(JSON.stringify(result)).not.toContain("mine only");
  });

  describe("reference images by id", () => {
    const r = useHarness(() => ({
      database: getDb(),
      callbacks: true,
      sim: { publicUrl: "https://kie-sim.test", ownResultUrls: true },
    }));

    it("generate_image takes several of your own images by id (stored ids and a taskId) mixed with https URLs", async () => {
      const owner = await r.signIn();
      // A job with two uploaded references: its request names their stored copies.
      const uploaded = await r.fetch("/api/generate", {
        method: "POST",
        token: owner.token,
        headers: { ...JSON_HEADERS, prefer: "wait" },
        body: JSON.stringify({
          prompt: "two fruits",
          images: [
            dataUri("image/png", await pngImage(20, 20, { r: 10, g: 120, b: 200 })),
            dataUri("image/png", await pngImage(24, 20, { r: 220, g: 200, b: 20 })),
          ],
        }),
      });
      const first = await uploaded.json();
      expect(first.status, JSON.stringify(first)).toBe("succeeded");
      const client = await connect(await keyFor(owner.token, r), r);
      const listed: Result = await client.callTool({ name: "list_generations", arguments: {} });
      const storedIds: string[] = listed.structuredContent.generations[0].referenceImageIds;
      expect(storedIds).toHaveLength(2);

      // An https URL KIE can fetch (kie-sim's own copy of an upload, on its public https address).
      const kieGot = kieInputOf(r, first.taskId).input;
      const httpsUrl = ((kieGot.image_urls ?? kieGot.image_input) as string[])[0] as string;
      expect(httpsUrl).toMatch(/^https:/);
      const references = [...storedIds, first.taskId, httpsUrl];
      let result: Result;
      // The copies are stored in the background: until then the API says the image is not stored (400).
      await waitFor(
        async () => {
          result = await client.callTool({
            name: "generate_image",
            arguments: { prompt: "all of them in a bowl", references },
          });
          return !result.isError || !String(result.content[0].text).startsWith("invalid_request");
        },
        { what: "the references to be stored" },
      );
      expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
      expect(result.structuredContent, JSON.stringify(result.structuredContent)).toMatchObject({
        status: "succeeded",
        creditsCharged: 1,
      });
      const taskId = result.structuredContent.taskId;
      // The API's request, exactly: the result as sourceTaskId, the uploads by id, the URL as images.
      const detail = await (await r.fetch(`/api/generations/${taskId}`, { token: owner.token })).json();
      expect(detail.generation.request).toMatchObject({
        sourceTaskId: first.taskId,
        images: [httpsUrl],
      });
      expect(detail.generation.request.referenceImageIds).toHaveLength(2);
      expect(detail.generation.parentTaskId).toBe(first.taskId);
      const sent = kieInputOf(r, taskId).input;
      expect((sent.image_urls ?? sent.image_input) as string[]).toHaveLength(4);

      // Another user's ids, stored or task: not found, nothing charged.
      const other = await r.signIn();
      const stranger = await connect(await keyFor(other.token, r), r);
      for (const id of [storedIds[0], first.taskId]) {
        const refused: Result = await stranger.callTool({
          name: "generate_image",
          arguments: { prompt: "theirs", references: [id, "https://images.example/a.png"] },
        });
        expect(refused.isError).toBe(true);
        expect(refused.content[0].text).toMatch(/^not_found/);
      }
      const credits: Result = await stranger.callTool({ name: "get_credits", arguments: {} });
      expect(credits.structuredContent).toEqual({ balance: 10 });
    });
  });

  describe("an OAuth client's limit", () => {
    const limited = useHarness(() => ({
      database: getDb(),
      callbacks: true,
      env: { API_KEY_RATE_LIMIT_PER_MINUTE: "3" },
    }));

    it("counts an OAuth token's MCP requests per user and client, like a key's (429 with Retry-After)", async () => {
      const { userId } = await limited.signIn();
      const now = Math.floor(Date.now() / 1000);
      const oauth = await new SignJWT({ role: "authenticated", client_id: "some-agent" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(userId)
        .setAudience("authenticated")
        .setIssuer(DEV_TOKEN_ISSUER)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(limited.app.devSecret!);
      const call = () =>
        fetch(`${limited.url}/api/mcp`, {
          method: "POST",
          headers: {
            ...JSON_HEADERS,
            authorization: `Bearer ${oauth}`,
            accept: "application/json, text/event-stream",
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        });
      for (let i = 0; i < 3; i++) expect((await call()).status).not.toBe(429);
      const refused = await call();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    });
  });

  describe("an image that takes longer than the tool waits", () => {
    const slow = useHarness(() => ({ database: getDb(), callbacks: true, sim: { stepMs: 60_000 } }));

    it("answers pending with the job id after about 20 s, reserved but nothing charged yet", async () => {
      const { token } = await slow.signIn();
      const key = (
        await (
          await slow.fetch("/api/keys", {
            method: "POST",
            token,
            headers: JSON_HEADERS,
            body: '{"name":"slow"}',
          })
        ).json()
      ).secret;
      const client = new Client({ name: "test-client", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${slow.url}/api/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${key}` } },
        }),
      );
      clients.push(client);
      const result: Result = await client.callTool(
        { name: "generate_image", arguments: { prompt: "a slow banana" } },
        { timeout: 55_000 },
      );
      expect(result.isError).toBeFalsy();
      expect(["pending", "processing"]).toContain(result.structuredContent.status);
      expect(result.structuredContent.taskId).toMatch(/\S/);
      expect(result.structuredContent.next).toMatch(/get_generation/);
      expect(result.structuredContent.creditsCharged).toBe(0);
      expect(result.structuredContent.remainingCredits).toBe(9); // reserved, not captured
      expect(result.content.filter((item: { type: string }) => item.type !== "text")).toEqual([]);
    }, 60_000);
  });
});
