import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { useHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";

const SUPABASE_SECRET = "super-secret-jwt-token-with-at-least-32-characters";

async function supabaseToken(sub: string, email: string, secret = SUPABASE_SECRET): Promise<string> {
  return new SignJWT({ email, role: "authenticated" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setAudience("authenticated")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
}

describeEachDatabase("sign-in and credits", (getDb) => {
  describe("embedded mode (dev sign-in)", () => {
    const h = useHarness(() => ({ database: getDb() }));

    it("warns at start-up that dev sign-in is on", () => {
      expect(h.logs()).toMatch(/Dev sign-in is ON/);
    });

    it("dev sign-in returns a token and an httpOnly SameSite=Lax session cookie; both authenticate", async () => {
      const response = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "Someone@Example.com" }),
      });
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.user).toMatchObject({ email: "someone@example.com" });
      const cookie = response.headers.get("set-cookie") ?? "";
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);

      const byBearer = await h.fetch("/api/credits", { token: body.accessToken });
      expect(await byBearer.json()).toEqual({ success: true, balance: 10 });
      const byCookie = await h.fetch("/api/credits", { headers: { cookie: cookie.split(";")[0] ?? "" } });
      expect(await byCookie.json()).toEqual({ success: true, balance: 10 });
    });

    it("a dev session lasts 12 hours at most: a token copied before sign-out dies within the day (issue 24)", async () => {
      const response = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "short-lived@example.com" }),
      });
      const body = await response.json();
      const [, payload] = (body.accessToken as string).split(".");
      const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8"));
      expect(claims.exp - claims.iat).toBeLessThanOrEqual(12 * 3600);
      const maxAge = Number(/Max-Age=(\d+)/.exec(response.headers.get("set-cookie") ?? "")?.[1]);
      expect(maxAge).toBeGreaterThan(0);
      expect(maxAge).toBeLessThanOrEqual(12 * 3600);
    });

    it("the same email is the same user; the initial grant is given once", async () => {
      const first = await h.signIn("repeat@example.com");
      const second = await h.signIn("REPEAT@example.com");
      expect(second.userId).toBe(first.userId);
      const credits = await h.fetch("/api/credits", { token: second.token });
      expect(await credits.json()).toEqual({ success: true, balance: 10 });
    });

    it("GET /api/me names the user, the balance and the modes; 401 without a session", async () => {
      const { token, userId } = await h.signIn("who@example.com");
      const response = await h.fetch("/api/me", { token });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        success: true,
        user: { id: userId, email: "who@example.com", isAdmin: false },
        balance: 10,
        auth: "dev",
        kie: "simulator",
      });
      expect((await h.fetch("/api/me")).status).toBe(401);
    });

    it("POST /api/auth/signout answers 204 and expires the session cookie", async () => {
      const response = await h.fetch("/api/auth/signout", { method: "POST" });
      expect(response.status).toBe(204);
      const cookie = response.headers.get("set-cookie") ?? "";
      expect(cookie).toMatch(/^nb_session=;/);
      expect(cookie).toMatch(/Max-Age=0/);
    });

    it("sign-out ends the session: a bearer copied before it gets 401, the user's other sessions go on (issue 24)", async () => {
      const kept = await h.signIn("leaving@example.com");
      const { token } = await h.signIn("leaving@example.com");
      expect((await h.fetch("/api/credits", { token })).status).toBe(200);
      const signOut = await h.fetch("/api/auth/signout", { method: "POST", token });
      expect(signOut.status).toBe(204);
      const copied = await h.fetch("/api/credits", { token });
      expect(copied.status).toBe(401);
      expect((await copied.json()).error.code).toBe("unauthorized");
      expect((await h.fetch("/api/generations", { token })).status).toBe(401);
      expect((await h.fetch("/api/credits", { token: kept.token })).status).toBe(200);
    });

    it("sign-out by the session cookie ends that session: the cookie and any copy of its token get 401", async () => {
      const response = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "cookie-leaving@example.com" }),
      });
      const { accessToken } = await response.json();
      const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const signOut = await h.fetch("/api/auth/signout", {
        method: "POST",
        headers: { cookie, origin: "http://localhost" },
      });
      expect(signOut.status).toBe(204);
      expect((await h.fetch("/api/credits", { token: accessToken })).status).toBe(401);
      expect((await h.fetch("/api/credits", { headers: { cookie } })).status).toBe(401);
    });

    it("refuses a bad email with 400 and a missing or bad token with 401 in the §3 shape", async () => {
      const bad = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "not-an-email" }),
      });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.code).toBe("invalid_request");

      for (const token of [
        undefined,
        "garbage",
        await supabaseToken("0c4d1c1e-8f1e-4b8a-9a53-0e0f6d9c1a11", "x@y.z"),
      ]) {
        const response = await h.fetch("/api/credits", { token });
        expect(response.status).toBe(401);
        const body = await response.json();
        expect(body).toMatchObject({ success: false, error: { code: "unauthorized" } });
        expect(body.error.requestId).toBe(response.headers.get("x-request-id"));
      }
    });
  });

  describe("Supabase mode (SUPABASE_JWT_SECRET)", () => {
    const h = useHarness(() => ({
      database: getDb(),
      env: { SUPABASE_JWT_SECRET: SUPABASE_SECRET, CREDITS_INITIAL: "5" },
    }));

    it("has no dev sign-in: POST /api/auth/dev is 404", async () => {
      const response = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "someone@example.com" }),
      });
      expect(response.status).toBe(404);
      expect(h.logs()).not.toMatch(/Dev sign-in is ON/);
    });

    it("accepts a Supabase access token and opens the account with CREDITS_INITIAL", async () => {
      const token = await supabaseToken("6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "member@example.com");
      const response = await h.fetch("/api/credits", { token });
      expect(await response.json()).toEqual({ success: true, balance: 5 });
    });

    it("sign-out ends a token that names no session_id too: its copy gets 401 (review r2)", async () => {
      // GoTrue's own tokens carry session_id; one minted without it (an admin tool, a migration)
      // was answered 204 by sign-out and then still accepted until it expired.
      const token = await supabaseToken("2a9e5c1b-7d3f-4e8a-b6c1-0f9e8d7c6b5a", "nosession@example.com");
      expect((await h.fetch("/api/credits", { token })).status).toBe(200);
      expect((await h.fetch("/api/auth/signout", { method: "POST", token })).status).toBe(204);
      expect((await h.fetch("/api/credits", { token })).status).toBe(401);
      // Another token of the same user is another session: it goes on.
      const other = await supabaseToken("2a9e5c1b-7d3f-4e8a-b6c1-0f9e8d7c6b5a", "NoSession@example.com");
      expect(other).not.toBe(token);
      expect((await h.fetch("/api/credits", { token: other })).status).toBe(200);
    });

    it("refuses a token signed with another secret", async () => {
      const forged = await supabaseToken(
        "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "member@example.com",
        "another-secret-that-is-also-long-enough-xx",
      );
      expect((await h.fetch("/api/credits", { token: forged })).status).toBe(401);
    });
  });
});
