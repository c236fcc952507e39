/**
 * Sign-out ends the session (lib/auth/authenticator.ts `signOut` and the `sessions` store): every
 * copy of a signed-out token is refused, other sessions keep working, and a token that names no
 * session is ended on its own.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AuthProviderUnavailableError,
  createAuthenticator,
  SESSION_COOKIE_NAME,
  type SessionStore,
  UnauthorizedError,
} from "@/lib/auth";
import { makeSigningKey, signHs256, signWith, startJwksServer, supabaseClaims, USER_ID } from "./helpers";

const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
const SESSION_A = "5b0c1c4e-1f0e-4c43-9a59-2d9b0a0f6a01";
const SESSION_B = "5b0c1c4e-1f0e-4c43-9a59-2d9b0a0f6a02";

/** The sessions table as lib/db/sessions.ts keeps it, in memory. */
function memoryStore() {
  const revoked = new Map<string, { userId: string; expiresAt: Date }>();
  const store: SessionStore = {
    isRevoked: async (sessionId) => revoked.has(sessionId),
    revoke: async ({ sessionId, userId, expiresAt }) => {
      revoked.set(sessionId, { userId, expiresAt });
    },
  };
  return { store, revoked };
}

const auth = (sessions?: SessionStore) =>
  createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET, ...(sessions && { sessions }) });
const token = (overrides: Parameters<typeof supabaseClaims>[0] = {}) =>
  signHs256(supabaseClaims({ iss: undefined, ...overrides }), JWT_SECRET);
const bearer = (value: string) =>
  new Request("http://localhost/api/auth/signout", { headers: { authorization: `Bearer ${value}` } });
const withCookie = (cookie: string, headers: Record<string, string> = {}) =>
  new Request("http://localhost/api/auth/signout", { headers: { cookie, ...headers } });

async function refusal(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "request should have been refused").toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

describe("signOut", () => {
  it("ends the bearer token's session until the token expires: that token is refused from then on", async () => {
    const { store, revoked } = memoryStore();
    const exp = Math.floor(Date.now() / 1000) + 1800;
    const signedOut = await token({ session_id: SESSION_A, sub: USER_ID.toUpperCase(), exp });
    const other = await token({ session_id: SESSION_B });
    await expect(auth(store).authenticate(bearer(signedOut))).resolves.toMatchObject({ id: USER_ID });

    await auth(store).signOut(bearer(signedOut));
    expect([...revoked]).toEqual([[SESSION_A, { userId: USER_ID, expiresAt: new Date(exp * 1000) }]]);
    expect((await refusal(auth(store).authenticate(bearer(signedOut)))).reason).toBe("session_ended");
    expect((await refusal(auth(store).verifyAccessToken(signedOut))).reason).toBe("session_ended");
    // The user's other session (another device) goes on.
    await expect(auth(store).authenticate(bearer(other))).resolves.toMatchObject({ id: USER_ID });
  });

  it("ends the session cookies' sessions when there is no bearer, each valid one, ignoring a stale one", async () => {
    const { store, revoked } = memoryStore();
    const expired = await token({ session_id: "stale", exp: Math.floor(Date.now() / 1000) - 3600 });
    const a = await token({ session_id: SESSION_A });
    const b = await token({ session_id: SESSION_B });
    const cookie = `${SESSION_COOKIE_NAME}=${expired}; sb-a-auth-token=${cookieOf(a)}; sb-b-auth-token=${cookieOf(b)}`;
    await expect(auth(store).signOut(withCookie(cookie))).resolves.toBeUndefined();
    expect([...revoked.keys()].sort()).toEqual([SESSION_A, SESSION_B]);
    expect(
      (await refusal(auth(store).authenticate(withCookie(`sb-a-auth-token=${cookieOf(a)}`)))).reason,
    ).toBe("session_ended");
  });

  it("with a bearer header, ends the bearer's session only, not the cookie's", async () => {
    const { store, revoked } = memoryStore();
    const a = await token({ session_id: SESSION_A });
    const b = await token({ session_id: SESSION_B });
    await auth(store).signOut(withCookie(`${SESSION_COOKIE_NAME}=${b}`, { authorization: `Bearer ${a}` }));
    expect([...revoked.keys()]).toEqual([SESSION_A]);
  });

  it("a token that names no session is ended on its own: other such tokens, and look-alike sessions, go on", async () => {
    const { store, revoked } = memoryStore();
    const lone = await token();
    const another = await token({ iat: Math.floor(Date.now() / 1000) - 1 });
    await auth(store).signOut(bearer(lone));
    // What the operator finds in revoked_sessions: the token's SHA-256, never the token itself.
    const hash = createHash("sha256").update(lone).digest("base64url");
    expect([...revoked.keys()]).toEqual([`token:${hash}`]);
    expect((await refusal(auth(store).authenticate(bearer(lone)))).reason).toBe("session_ended");
    await expect(auth(store).authenticate(bearer(another))).resolves.toMatchObject({ id: USER_ID });
    // A session_id that happens to read like the ended token's hash is another session.
    await expect(auth(store).authenticate(bearer(await token({ session_id: hash })))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("an empty or non-string session_id names no session: signing out one such token ends no other", async () => {
    for (const sessionId of ["", 7]) {
      const { store } = memoryStore();
      const first = await token({ session_id: sessionId as string });
      const second = await token({ session_id: sessionId as string, iat: Math.floor(Date.now() / 1000) - 1 });
      await auth(store).signOut(bearer(first));
      expect((await refusal(auth(store).authenticate(bearer(first)))).reason).toBe("session_ended");
      await expect(auth(store).authenticate(bearer(second))).resolves.toMatchObject({ id: USER_ID });
    }
  });

  it("ends nothing for an invalid token, one that names no user, or none, and does not fail", async () => {
    const { store, revoked } = memoryStore();
    await expect(
      auth(store).signOut(bearer(await token({ session_id: SESSION_A, sub: 42 as unknown as string }))),
    ).resolves.toBeUndefined();
    await expect(auth(store).signOut(bearer("not-a-token"))).resolves.toBeUndefined();
    await expect(
      auth(store).signOut(new Request("http://localhost/api/auth/signout")),
    ).resolves.toBeUndefined();
    expect(revoked.size).toBe(0);
  });

  it("fails, rather than claim the session ended, when the sign-in provider's keys cannot be fetched", async () => {
    const keys = await startJwksServer([]);
    try {
      keys.mode = "error";
      const key = await makeSigningKey("k1", "ES256");
      const jwt = await signWith(key, supabaseClaims({ iss: `${keys.url}/auth/v1`, session_id: SESSION_A }));
      const { store, revoked } = memoryStore();
      const withKeys = createAuthenticator({ mode: "supabase", supabaseUrl: keys.url, sessions: store });
      const error = await withKeys.signOut(bearer(jwt)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthProviderUnavailableError);
      expect(revoked.size).toBe(0);
    } finally {
      await keys.close();
    }
  });

  it("without a session store, signing out ends nothing and every token stays valid until it expires", async () => {
    const jwt = await token({ session_id: SESSION_A });
    await expect(auth().signOut(bearer(jwt))).resolves.toBeUndefined();
    await expect(auth().authenticate(bearer(jwt))).resolves.toMatchObject({ id: USER_ID });
  });
});

function cookieOf(accessToken: string): string {
  const session = { access_token: accessToken, refresh_token: "r", token_type: "bearer" };
  return `base64-${Buffer.from(JSON.stringify(session)).toString("base64url")}`;
}
