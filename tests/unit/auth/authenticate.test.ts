import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { createServerClient, serializeCookieHeader } from "@supabase/ssr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthProviderUnavailableError,
  createAuthenticator,
  DEV_TOKEN_ISSUER,
  issueDevToken,
  SESSION_COOKIE_NAME,
  supabaseAuthCookieName,
  UnauthorizedError,
} from "@/lib/auth";
import { assertSameOrigin } from "@/lib/http/csrf";
import { makeSigningKey, signHs256, signWith, startJwksServer, supabaseClaims, USER_ID } from "./helpers";

/** Supabase's claims as the configured project issues them (`iss` = <SUPABASE_URL>/auth/v1). */
const claims = (overrides: Parameters<typeof supabaseClaims>[0] = {}) =>
  supabaseClaims({ iss: `${supabase.url}/auth/v1`, ...overrides });

const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
const OTHER_USER = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

function request(headers: Record<string, string>): Request {
  return new Request("http://localhost/api/credits", { headers });
}

async function refusal(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "request should have been refused").toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

/**
 * Stands in for a Supabase project so the real @supabase/ssr server client can "sign in" and
 * write its session cookies: setSession() asks GET /auth/v1/user before saving the session.
 */
let supabase: { url: string; close(): Promise<void> };

beforeAll(async () => {
  const server = http.createServer((req, res) => {
    if (req.url !== "/auth/v1/user") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: USER_ID,
        aud: "authenticated",
        role: "authenticated",
        email: "user@example.com",
        app_metadata: { provider: "email" },
        // Large and non-ASCII, so the session cookie is split into chunks at encoded boundaries.
        user_metadata: { bio: "é🍌".repeat(1500) },
        created_at: "2025-01-01T00:00:00Z",
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  supabase = {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});

afterAll(async () => {
  await supabase.close();
});

/** The `Cookie` header a browser sends back after @supabase/ssr signed it in with `accessToken`. */
async function supabaseBrowserCookies(
  accessToken: string,
  cookieEncoding: "base64url" | "raw",
): Promise<string> {
  const written: { name: string; value: string }[] = [];
  const client = createServerClient(supabase.url, "anon-key", {
    cookieEncoding,
    // supabase-js builds a realtime client eagerly; Node 20 has no WebSocket, and none is used here.
    realtime: { transport: class {} as never },
    cookies: {
      getAll: () => [],
      setAll: (cookies) => {
        written.push(...cookies);
      },
    },
  });
  const { error } = await client.auth.setSession({
    access_token: accessToken,
    refresh_token: "refresh-token",
  });
  expect(error).toBeNull();
  expect(written.length).toBeGreaterThan(0);
  return written.map(({ name, value }) => serializeCookieHeader(name, value, {}).split(";")[0]).join("; ");
}

describe("authenticate: where the token comes from", () => {
  const auth = () => createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });

  it("reads the bearer header", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    await expect(auth().authenticate(request({ authorization: `Bearer ${token}` }))).resolves.toMatchObject({
      id: USER_ID,
    });
    await expect(auth().authenticate(request({ authorization: `bearer  ${token} ` }))).resolves.toMatchObject(
      {
        id: USER_ID,
      },
    );
  });

  it("prefers the bearer header over the cookie", async () => {
    const bearer = await signHs256(claims(), JWT_SECRET);
    const cookie = await signHs256(claims({ sub: OTHER_USER }), JWT_SECRET);
    const user = await auth().authenticate(
      request({ authorization: `Bearer ${bearer}`, cookie: `${SESSION_COOKIE_NAME}=${cookie}` }),
    );
    expect(user.id).toBe(USER_ID);
  });

  it("does not fall back to a valid cookie when the bearer token is bad", async () => {
    const cookie = await signHs256(claims({ sub: OTHER_USER }), JWT_SECRET);
    const error = await refusal(
      auth().authenticate(
        request({ authorization: "Bearer nonsense", cookie: `${SESSION_COOKIE_NAME}=${cookie}` }),
      ),
    );
    expect(error.reason).toBe("malformed_token");
  });

  it("never falls back to the cookie when the header's scheme is Bearer, however malformed (issue 24)", async () => {
    const cookie = await signHs256(claims({ sub: OTHER_USER }), JWT_SECRET);
    for (const authorization of ["Bearer,x", "Bearer;x", "bearer", "Bearer\t", "Bearer/x"]) {
      const error = await refusal(
        auth().authenticate(request({ authorization, cookie: `${SESSION_COOKIE_NAME}=${cookie}` })),
      );
      expect(error.reason, authorization).toBe("malformed_token");
    }
  });

  it("takes the token after any run of spaces and tabs, whatever the scheme's case", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    for (const authorization of [
      `bearer ${token}`,
      `BEARER \t ${token}`,
      `Bearer\t\t${token}`,
      `Bearer   ${token}   `,
    ]) {
      await expect(auth().authenticate(request({ authorization })), authorization).resolves.toMatchObject({
        id: USER_ID,
      });
    }
  });

  it("refuses a header that holds more than the token, or Bearer only after other text in the scheme", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    for (const authorization of [`Bearer ${token} x`, `Bearer,Bearer ${token}`, `Bearer;Bearer ${token}`]) {
      const error = await refusal(auth().authenticate(request({ authorization })));
      expect(error.reason, authorization).toBe("malformed_token");
    }
  });

  it("text before Bearer makes it another scheme: the cookie is used", async () => {
    const bearer = await signHs256(claims(), JWT_SECRET);
    const cookie = await signHs256(claims({ sub: OTHER_USER }), JWT_SECRET);
    for (const authorization of [`Token Bearer ${bearer}`, `xBearer ${bearer}`, `Bearerx ${bearer}`]) {
      const user = await auth().authenticate(
        request({ authorization, cookie: `${SESSION_COOKIE_NAME}=${cookie}` }),
      );
      expect(user.id, authorization).toBe(OTHER_USER);
    }
  });

  it("a Bearer header without a token does not exempt a cookie request from the same-origin check", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const foreign = (authorization: string) =>
      new Request("http://localhost/api/generate", {
        method: "POST",
        headers: { authorization, cookie: `${SESSION_COOKIE_NAME}=${token}`, origin: "https://evil.example" },
      });
    for (const authorization of ["Bearer", "Bearer,x", "Bearer;x", "Basic dXNlcjpwYXNz"]) {
      expect(() => assertSameOrigin(foreign(authorization), undefined), authorization).toThrow(
        expect.objectContaining({ code: "forbidden" }),
      );
    }
    expect(() => assertSameOrigin(foreign(`Bearer ${token}`), undefined)).not.toThrow();
  });

  it("uses the cookie when the Authorization header is another scheme (e.g. a proxy's Basic auth)", async () => {
    const cookie = await signHs256(claims(), JWT_SECRET);
    const user = await auth().authenticate(
      request({
        authorization: "Basic dXNlcjpwYXNz",
        cookie: `theme=dark; ${SESSION_COOKIE_NAME}=${cookie}`,
      }),
    );
    expect(user.id).toBe(USER_ID);
  });

  it("refuses a request with no credentials, with a message that names no token", async () => {
    const error = await refusal(auth().authenticate(request({ cookie: "theme=dark" })));
    expect(error.reason).toBe("missing_token");
    expect(error.message).toMatch(/sign-in required/i);
  });

  it("refuses an empty bearer", async () => {
    expect((await refusal(auth().authenticate(request({ authorization: "Bearer" })))).reason).toBe(
      "malformed_token",
    );
  });

  it("never puts the presented token into the error", async () => {
    const expired = await signHs256(claims({ exp: Math.floor(Date.now() / 1000) - 3600 }), JWT_SECRET);
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${expired}` },
      { cookie: `${SESSION_COOKIE_NAME}=${expired}` },
    ];
    for (const headers of attempts) {
      const error = await refusal(auth().authenticate(request(headers)));
      expect(error.reason).toBe("token_expired");
      const printed = `${error.message}\n${inspect(error)}\n${JSON.stringify(error)}`;
      expect(printed).not.toContain(expired);
      expect(printed).not.toContain(expired.split(".")[2]);
      expect(printed).not.toContain(JWT_SECRET);
    }
  });
});

describe("authenticate: @supabase/ssr session cookies", () => {
  it("reads the chunked, base64- prefixed cookie written by @supabase/ssr", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const cookieHeader = await supabaseBrowserCookies(token, "base64url");
    const name = supabaseAuthCookieName(supabase.url);
    expect(cookieHeader).toContain(`${name}.0=base64-`);
    expect(cookieHeader).toContain(`${name}.1=`);

    const auth = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
    });
    await expect(auth.authenticate(request({ cookie: `a=b; ${cookieHeader}; c=d` }))).resolves.toEqual({
      id: USER_ID,
      email: "user@example.com",
      isAdmin: false,
    });
  });

  it("reads the raw-JSON (URI-encoded) variant", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const cookieHeader = await supabaseBrowserCookies(token, "raw");
    expect(cookieHeader).not.toContain("base64-");
    const auth = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
    });
    await expect(auth.authenticate(request({ cookie: cookieHeader }))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("finds the cookie without the project URL (secret-only config)", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const cookieHeader = await supabaseBrowserCookies(token, "base64url");
    const auth = createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });
    await expect(auth.authenticate(request({ cookie: cookieHeader }))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("refuses when a chunk is missing (a partial cookie write)", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const cookieHeader = await supabaseBrowserCookies(token, "base64url");
    const withoutChunk1 = cookieHeader
      .split("; ")
      .filter((c) => !c.includes(".1="))
      .join("; ");
    const auth = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
    });
    expect((await refusal(auth.authenticate(request({ cookie: withoutChunk1 })))).reason).toBe(
      "missing_token",
    );
  });

  it("a stale cookie of ours does not hide a valid Supabase session", async () => {
    const fresh = await signHs256(claims(), JWT_SECRET);
    const stale = await signHs256(
      claims({ sub: OTHER_USER, exp: Math.floor(Date.now() / 1000) - 3600 }),
      JWT_SECRET,
    );
    const cookieHeader = await supabaseBrowserCookies(fresh, "base64url");
    const auth = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
    });
    const user = await auth.authenticate(
      request({ cookie: `${SESSION_COOKIE_NAME}=${stale}; ${cookieHeader}` }),
    );
    expect(user.id).toBe(USER_ID);
  });

  it("dev mode ignores Supabase cookies", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const cookieHeader = await supabaseBrowserCookies(token, "base64url");
    const auth = createAuthenticator({ mode: "dev", devSecret: new Uint8Array(32).fill(7) });
    expect((await refusal(auth.authenticate(request({ cookie: cookieHeader })))).reason).toBe(
      "missing_token",
    );
  });
});

describe("admins", () => {
  it("flags emails in adminEmails, case-insensitively, and no one else", async () => {
    const auth = createAuthenticator({
      mode: "supabase",
      supabaseJwtSecret: JWT_SECRET,
      adminEmails: ["Boss@Example.com"],
    });
    const admin = await signHs256(claims({ email: "boss@EXAMPLE.com", email_verified: true }), JWT_SECRET);
    const user = await signHs256(claims({ email: "user@example.com", email_verified: true }), JWT_SECRET);
    const { email: _email, ...noEmail } = claims();
    await expect(auth.verifyAccessToken(admin)).resolves.toMatchObject({ isAdmin: true });
    await expect(auth.verifyAccessToken(user)).resolves.toMatchObject({ isAdmin: false });
    await expect(auth.verifyAccessToken(await signHs256(noEmail, JWT_SECRET))).resolves.toMatchObject({
      isAdmin: false,
    });
  });

  it("needs a verified email: unverified, unsaid, or said only in the user's own user_metadata is no admin", async () => {
    const auth = createAuthenticator({
      mode: "supabase",
      supabaseJwtSecret: JWT_SECRET,
      adminEmails: ["boss@example.com"],
    });
    const email = "boss@example.com";
    for (const extra of [
      { email_verified: false },
      {},
      { email_verified: "true" },
      { user_metadata: { email_verified: true } },
    ]) {
      const token = await signHs256(claims({ email, ...extra }), JWT_SECRET);
      await expect(auth.verifyAccessToken(token), JSON.stringify(extra)).resolves.toMatchObject({
        isAdmin: false,
      });
    }
    for (const extra of [{ email_verified: true }, { app_metadata: { email_verified: true } }]) {
      const token = await signHs256(claims({ email, ...extra }), JWT_SECRET);
      await expect(auth.verifyAccessToken(token), JSON.stringify(extra)).resolves.toMatchObject({
        isAdmin: true,
      });
    }
  });

  it("with no admin emails configured, a verified email makes no admin; app_metadata.role still does", async () => {
    const auth = createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });
    const verified = await signHs256(claims({ email: "boss@example.com", email_verified: true }), JWT_SECRET);
    await expect(auth.verifyAccessToken(verified)).resolves.toMatchObject({ isAdmin: false });
    const byRole = await signHs256(claims({ app_metadata: { role: "admin" } }), JWT_SECRET);
    await expect(auth.verifyAccessToken(byRole)).resolves.toMatchObject({ isAdmin: true });
  });

  it("a dev-mode token never makes an admin, whatever its claims say", async () => {
    const devSecret = new Uint8Array(32).fill(9);
    const auth = createAuthenticator({ mode: "dev", devSecret, adminEmails: ["boss@example.com"] });
    const token = await signHs256(
      claims({
        iss: DEV_TOKEN_ISSUER,
        email: "boss@example.com",
        email_verified: true,
        app_metadata: { role: "admin", email_verified: true },
      }),
      devSecret,
    );
    await expect(auth.verifyAccessToken(token)).resolves.toMatchObject({ id: USER_ID, isAdmin: false });
  });

  it("never applies to dev sign-in, where anyone can claim any email (DESIGN §6)", async () => {
    const devSecret = new Uint8Array(32).fill(9);
    const auth = createAuthenticator({ mode: "dev", devSecret, adminEmails: ["boss@example.com"] });
    const issued = await issueDevToken({ email: "BOSS@example.com" }, devSecret);
    expect(issued.user.isAdmin).toBe(false);
    await expect(
      auth.authenticate(request({ cookie: `${SESSION_COOKIE_NAME}=${issued.accessToken}` })),
    ).resolves.toEqual(issued.user);
  });
});

describe("configuration", () => {
  it("refuses contradictory or incomplete options at construction", () => {
    expect(() => createAuthenticator({ mode: "supabase" })).toThrow(/supabaseUrl or supabaseJwtSecret/);
    expect(() => createAuthenticator({ mode: "dev" })).toThrow(/devSecret/);
    expect(() => createAuthenticator({ mode: "dev", devSecret: new Uint8Array(8) })).toThrow(
      /at least 32 bytes/,
    );
    expect(() =>
      createAuthenticator({ mode: "dev", devSecret: new Uint8Array(32), supabaseJwtSecret: JWT_SECRET }),
    ).toThrow(/no Supabase settings/);
    expect(() => createAuthenticator({ mode: "supabase", supabaseUrl: "ftp://example.com" })).toThrow(/http/);
  });
});

/** An @supabase/ssr session cookie as the browser sends it back (base64- prefixed JSON). */
function sessionCookieOf(name: string, accessToken: string): string {
  const session = { access_token: accessToken, refresh_token: "r", token_type: "bearer" };
  return `${name}=base64-${Buffer.from(JSON.stringify(session)).toString("base64url")}`;
}

describe("authenticate: several session cookies (issue 17)", () => {
  const secretOnly = () => createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });

  it("looks at no more than four of them: a valid fifth is not reached", async () => {
    const valid = await signHs256(claims(), JWT_SECRET);
    const expired = await signHs256(claims({ exp: Math.floor(Date.now() / 1000) - 3600 }), JWT_SECRET);
    const stale = (n: number) => sessionCookieOf(`sb-stale${n}-auth-token`, `${expired.slice(0, -4)}${n}AAA`);
    const four = [stale(1), stale(2), stale(3), sessionCookieOf("sb-good-auth-token", valid)].join("; ");
    await expect(secretOnly().authenticate(request({ cookie: four }))).resolves.toMatchObject({
      id: USER_ID,
    });
    const five = [stale(1), stale(2), stale(3), stale(4), sessionCookieOf("sb-good-auth-token", valid)].join(
      "; ",
    );
    await refusal(secretOnly().authenticate(request({ cookie: five })));
  });

  it("a key-fetch failure behind a cookie is the sign-in provider's problem, not a 401", async () => {
    const keys = await startJwksServer([]);
    try {
      keys.mode = "error";
      const key = await makeSigningKey("k1", "ES256");
      const token = await signWith(key, claims({ iss: `${keys.url}/auth/v1` }));
      const auth = createAuthenticator({ mode: "supabase", supabaseUrl: keys.url });
      // A stale cookie of ours comes first: its 401 must not stand for the outage behind the next.
      const stale = await signHs256(claims({ exp: Math.floor(Date.now() / 1000) - 3600 }), JWT_SECRET);
      const cookie = `${SESSION_COOKIE_NAME}=${stale}; ${sessionCookieOf(supabaseAuthCookieName(keys.url), token)}`;
      const error = await auth.authenticate(request({ cookie })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthProviderUnavailableError);
    } finally {
      await keys.close();
    }
  });

  it("with a project URL, reads the project's cookie or the configured name, and no other project's", async () => {
    const token = await signHs256(claims(), JWT_SECRET);
    const derived = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
    });
    const own = sessionCookieOf(supabaseAuthCookieName(supabase.url), token);
    await expect(derived.authenticate(request({ cookie: own }))).resolves.toMatchObject({ id: USER_ID });
    const other = sessionCookieOf("sb-otherproject-auth-token", token);
    expect((await refusal(derived.authenticate(request({ cookie: other })))).reason).toBe("missing_token");

    const named = createAuthenticator({
      mode: "supabase",
      supabaseUrl: supabase.url,
      supabaseJwtSecret: JWT_SECRET,
      supabaseCookieName: "my-session",
    });
    await expect(
      named.authenticate(request({ cookie: sessionCookieOf("my-session", token) })),
    ).resolves.toMatchObject({ id: USER_ID });
    expect((await refusal(named.authenticate(request({ cookie: own })))).reason).toBe("missing_token");
  });
});
