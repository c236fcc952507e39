/**
 * Personal API keys end to end (issue 29, DESIGN.md §3 "API keys"): created and shown once, only
 * a hash in the table, a key authenticates as its owner on every route, its last use recorded,
 * revoked → refused at once by another instance on the same database, its own rate limit, keys
 * cannot make keys, and nobody can touch another user's key.
 */
import { sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { expect, it } from "vitest";
import { DEV_TOKEN_ISSUER } from "@/lib/auth";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const JSON_HEADERS = { "content-type": "application/json" };

describeEachDatabase("personal API keys", (getDb) => {
  const h = useHarness(() => ({ database: getDb(), env: { API_KEY_RATE_LIMIT_PER_MINUTE: "5" } }));
  const second = useHarness(() => ({ database: getDb() }));

  async function createKey(token: string, name = "script") {
    const response = await h.fetch("/api/keys", {
      method: "POST",
      token,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as {
      key: { id: string; name: string; prefix: string; createdAt: string; lastUsedAt: string | null };
      secret: string;
    };
  }

  async function table(): Promise<Record<string, unknown>[]> {
    const result = await getDb().db.execute(sql`SELECT * FROM nano_banana.api_keys`);
    return (Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows) as Record<
      string,
      unknown
    >[];
  }

  it("is shown once, stored only as its SHA-256 and prefix, and authenticates as its owner", async () => {
    const { token, userId } = await h.signIn();
    const created = await createKey(token, "  nightly batch  ");
    expect(created.secret).toMatch(/^nbk_[A-Za-z0-9_-]{43}$/);
    expect(created.key).toMatchObject({
      name: "nightly batch",
      prefix: created.secret.slice(0, 12),
      lastUsedAt: null,
    });

    const rows = await table();
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(created.secret);
    expect(stored).not.toContain(created.secret.slice(12)); // no part of the secret beyond the prefix
    const { createHash } = await import("node:crypto");
    expect(rows[0]?.key_hash).toBe(createHash("sha256").update(created.secret).digest("hex"));
    expect(rows[0]?.user_id).toBe(userId);

    const list = await (await h.fetch("/api/keys", { token })).json();
    expect(list.keys).toEqual([created.key]);
    expect(JSON.stringify(list)).not.toContain(created.secret);

    const me = await (await h.fetch("/api/me", { token: created.secret })).json();
    expect(me.user).toMatchObject({ id: userId, isAdmin: false });
    expect(await (await h.fetch("/api/credits", { token: created.secret })).json()).toEqual({
      success: true,
      balance: 10,
    });
    expect(h.logs()).not.toContain(created.secret);
  });

  it("records the last use, at most once a minute", async () => {
    const { token } = await h.signIn();
    const { secret, key } = await createKey(token);
    await h.fetch("/api/credits", { token: secret });
    const first = (await (await h.fetch("/api/keys", { token })).json()).keys[0].lastUsedAt as string;
    expect(first).not.toBeNull();
    expect(Date.parse(first)).toBeGreaterThanOrEqual(Date.parse(key.createdAt));
    await h.fetch("/api/credits", { token: secret });
    const again = (await (await h.fetch("/api/keys", { token })).json()).keys[0].lastUsedAt;
    expect(again).toBe(first);
  });

  it("a job made with a key is the owner's: same credits, seen by the session", async () => {
    const { token } = await h.signIn();
    const { secret } = await createKey(token);
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token: secret,
      headers: { ...JSON_HEADERS, prefer: "wait" },
      body: JSON.stringify({ prompt: "a banana by key" }),
    });
    expect(response.status).toBe(200);
    const job = await response.json();
    expect(job.remainingCredits).toBe(9);
    const status = await h.fetch(`/api/generate/${job.taskId}`, { token });
    expect((await status.json()).status).toBe("succeeded");
    expect((await (await h.fetch("/api/credits", { token })).json()).balance).toBe(9);
  });

  it("a revoked key is refused at once by another instance on the same database", async () => {
    const { token } = await h.signIn();
    const { secret, key } = await createKey(token);
    expect((await second.fetch("/api/credits", { token: secret })).status).toBe(200);
    const revoked = await h.fetch(`/api/keys/${key.id}`, { method: "DELETE", token });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ success: true, id: key.id, revoked: true });
    const refused = await second.fetch("/api/credits", { token: secret });
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe("unauthorized");
    expect((await h.fetch("/api/keys", { token })).status).toBe(200);
    expect((await (await h.fetch("/api/keys", { token })).json()).keys).toEqual([]);
  });

  it("limits each key per minute (429 with Retry-After); the owner's other key and session still work", async () => {
    const { token } = await h.signIn();
    const one = await createKey(token, "one");
    const two = await createKey(token, "two");
    for (let i = 0; i < 5; i++)
      expect((await h.fetch("/api/credits", { token: one.secret })).status).toBe(200);
    const limited = await h.fetch("/api/credits", { token: one.secret });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await limited.json()).error.code).toBe("rate_limited");
    expect((await h.fetch("/api/credits", { token: two.secret })).status).toBe(200);
    expect((await h.fetch("/api/credits", { token })).status).toBe(200);
  });

  it("a key cannot create keys (403), and nothing is created", async () => {
    const { token } = await h.signIn();
    const { secret } = await createKey(token);
    const response = await h.fetch("/api/keys", {
      method: "POST",
      token: secret,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "child" }),
    });
    expect(response.status).toBe(403);
    expect((await response.json()).error.code).toBe("forbidden");
    expect((await (await h.fetch("/api/keys", { token })).json()).keys).toHaveLength(1);
  });

  it("an OAuth client's access token (client_id) cannot create keys either (403): a key would outlive its grant", async () => {
    const { token, userId } = await h.signIn();
    const now = Math.floor(Date.now() / 1000);
    const oauth = await new SignJWT({ role: "authenticated", client_id: "some-mcp-client" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(userId)
      .setAudience("authenticated")
      .setIssuer(DEV_TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(h.app.devSecret!);
    expect((await h.fetch("/api/credits", { token: oauth })).status).toBe(200);
    const response = await h.fetch("/api/keys", {
      method: "POST",
      token: oauth,
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "persistence" }),
    });
    expect(response.status).toBe(403);
    expect((await response.json()).error.code).toBe("forbidden");
    expect((await (await h.fetch("/api/keys", { token })).json()).keys).toEqual([]);
  });

  it("another user's key id, an unknown one and a malformed one are all 404; the key keeps working", async () => {
    const owner = await h.signIn();
    const other = await h.signIn();
    const { secret, key } = await createKey(owner.token);
    for (const id of [key.id, "00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      const response = await h.fetch(`/api/keys/${id}`, { method: "DELETE", token: other.token });
      expect(response.status, id).toBe(404);
      expect((await response.json()).error.code).toBe("not_found");
    }
    expect((await h.fetch("/api/credits", { token: secret })).status).toBe(200);
    expect((await (await h.fetch("/api/keys", { token: other.token })).json()).keys).toEqual([]);
  });

  it("refuses a key in the URL, and a cookie request from another origin", async () => {
    const { token } = await h.signIn();
    const { secret } = await createKey(token);
    const inQuery = await h.fetch(`/api/credits?api_key=${secret}`);
    expect(inQuery.status).toBe(400);
    const encoded = await h.fetch(`/api/credits?k=${encodeURIComponent(secret).replace("_", "%5F")}`, {
      token,
    });
    expect(encoded.status).toBe(400);
    const forged = await h.fetch("/api/keys", {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie: `nb_session=${token}`, origin: "https://evil.example" },
      body: JSON.stringify({ name: "forged" }),
    });
    expect(forged.status).toBe(403);
    expect((await (await h.fetch("/api/keys", { token })).json()).keys).toHaveLength(1);
    expect(h.logs()).not.toContain(secret);
  });

  it("perimeter: a key in a path, an empty Bearer beside a cookie, a cookie on /api/mcp, a key revoking itself", async () => {
    const { token } = await h.signIn();
    const { secret, key } = await createKey(token);
    expect((await h.fetch(`/api/generate/${secret}`, { token })).status).toBe(400);
    const emptyBearer = await h.fetch("/api/keys", {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie: `nb_session=${token}`, authorization: "Bearer" },
      body: JSON.stringify({ name: "sneaky" }),
    });
    expect(emptyBearer.status).toBe(403); // not a bearer request: the same-origin rule applies
    const cookieOnMcp = await h.fetch("/api/mcp", {
      method: "POST",
      headers: { ...JSON_HEADERS, cookie: `nb_session=${token}`, origin: "http://localhost" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(cookieOnMcp.status).toBe(401);
    const huge = await h.fetch("/api/mcp", {
      method: "POST",
      token: secret,
      headers: JSON_HEADERS,
      body: "a".repeat(300 * 1024),
    });
    expect(huge.status).toBe(413);
    const rotated = await h.fetch(`/api/keys/${key.id}`, { method: "DELETE", token: secret });
    expect(rotated.status).toBe(200);
    expect((await h.fetch("/api/credits", { token: secret })).status).toBe(401);
    expect(h.logs()).not.toContain(secret.slice(4));
  });

  it("refuses a name that is empty or too long (400)", async () => {
    const { token } = await h.signIn();
    for (const name of ["   ", "x".repeat(65)]) {
      const response = await h.fetch("/api/keys", {
        method: "POST",
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify({ name }),
      });
      expect(response.status).toBe(400);
    }
  });
});
