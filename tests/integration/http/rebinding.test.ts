/**
 * DNS rebinding vs dev sign-in (DESIGN.md §6, issue 24 item 3). A page at evil.example that
 * re-points its name to 127.0.0.1 calls us as "its own origin": the browser still sends
 * `Host: evil.example`. While dev sign-in is on, only our own host names are answered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, type TestDatabase } from "../../helpers/database";

let testDb: TestDatabase;
let h: Harness;

beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  h = await startHarness({
    database: testDb.database,
    env: { APP_URL: "https://studio.example.com", RATE_LIMIT_IP_PER_MINUTE: "1000" },
  });
});

afterAll(async () => {
  await h?.close();
  await testDb?.dispose();
});

const signIn = (headers: Record<string, string>) =>
  h.fetch("/api/auth/dev", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ email: "victim@example.com" }),
  });

describe("while dev sign-in is on, only our own host names are served", () => {
  it("the rebinding request (Host: evil.example) to POST /api/auth/dev is 403, with no token", async () => {
    for (const headers of <Record<string, string>[]>[
      { host: "evil.example", origin: "http://evil.example" },
      { host: "evil.example:3000", origin: "http://evil.example:3000" },
      { host: "evil.example" },
    ]) {
      const response = await signIn(headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      const body = await response.json();
      expect(body.error.code).toBe("forbidden");
      expect(body.accessToken).toBeUndefined();
      expect(response.headers.get("set-cookie")).toBeNull();
    }
  });

  it("a token obtained earlier does not read anything through a foreign Host either", async () => {
    const { token } = await h.signIn("rebound@example.com");
    const response = await h.fetch("/api/me", { token, headers: { host: "evil.example:8080" } });
    expect(response.status).toBe(403);
    expect(JSON.stringify(await response.json())).not.toContain("rebound@example.com");
  });

  it("a foreign Origin is refused even without a cookie, on our own Host", async () => {
    const response = await signIn({ host: "127.0.0.1:3000", origin: "http://evil.example" });
    expect(response.status).toBe(403);
    const { token } = await h.signIn("origin@example.com");
    const read = await h.fetch("/api/me", {
      token,
      headers: { host: "localhost:3000", origin: "https://evil.example" },
    });
    expect(read.status).toBe(403);
  });

  it("localhost, 127.0.0.1, [::1] and APP_URL's host are served, on any port", async () => {
    for (const host of [
      "localhost",
      "localhost:3000",
      "127.0.0.1:41234",
      "[::1]:3000",
      "studio.example.com",
      "STUDIO.example.com:8443",
    ]) {
      const response = await signIn({ host });
      expect(response.status, host).toBe(200);
    }
  });
});
