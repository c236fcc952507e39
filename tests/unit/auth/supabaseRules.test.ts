/**
 * DESIGN.md §6 "Sign-in fails closed", Supabase side: a token is a user's only when the configured
 * project issued it (`iss`), for a signed-in user (`role: authenticated`, not anonymous), signed by
 * a key of its JWKS; admins come from `app_metadata.role` or ADMIN_EMAILS, never from dev sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthConfigurationError, createAuthenticator, issueDevToken, UnauthorizedError } from "@/lib/auth";
import {
  type JwksServer,
  makeSigningKey,
  type SigningKey,
  signWith,
  startJwksServer,
  USER_ID,
} from "./helpers";

let server: JwksServer;
let key: SigningKey;

beforeAll(async () => {
  key = await makeSigningKey("3d1c9d1e-5b0a-4d0e-9f6e-1c2b3a4d5e6f", "ES256");
  server = await startJwksServer([key.publicJwk]);
});

afterAll(async () => {
  await server.close();
});

/** An access token's claims exactly as Supabase Auth writes them for an email user. */
function supabaseAccessClaims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: `${server.url}/auth/v1`,
    sub: USER_ID,
    aud: "authenticated",
    exp: now + 3600,
    iat: now,
    email: "user@example.com",
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: { email: "user@example.com", email_verified: true, sub: USER_ID },
    role: "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: "6c0d7b7e-2a3b-4c5d-8e9f-0a1b2c3d4e5f",
    is_anonymous: false,
    ...overrides,
  };
}

const auth = (options: { allowAnonymous?: boolean; adminEmails?: string[] } = {}) =>
  createAuthenticator({ mode: "supabase", supabaseUrl: server.url, jwks: { cooldownMs: 0 }, ...options });

async function refused(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the token should have been refused (401)").toBeInstanceOf(UnauthorizedError);
}

describe("Supabase access tokens", () => {
  it("accepts an ES256 token as Supabase Auth issues it (JWKS with kid)", async () => {
    const token = await signWith(key, supabaseAccessClaims());
    await expect(auth().verifyAccessToken(token)).resolves.toEqual({
      id: USER_ID,
      email: "user@example.com",
      isAdmin: false,
    });
  });

  it("refuses a foreign iss: another project's token, even signed by a key we trust", async () => {
    const other = await signWith(
      key,
      supabaseAccessClaims({ iss: "https://other-project.supabase.co/auth/v1" }),
    );
    await refused(auth().verifyAccessToken(other));
    const none = await signWith(key, supabaseAccessClaims({ iss: undefined }));
    await refused(auth().verifyAccessToken(none));
  });

  it("refuses anonymous users unless ALLOW_ANONYMOUS_USERS", async () => {
    const token = await signWith(key, supabaseAccessClaims({ is_anonymous: true, email: "" }));
    await refused(auth().verifyAccessToken(token));
    await expect(auth({ allowAnonymous: true }).verifyAccessToken(token)).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("refuses role anon (the anon key) and service_role tokens", async () => {
    for (const role of ["anon", "service_role", undefined]) {
      await refused(auth().verifyAccessToken(await signWith(key, supabaseAccessClaims({ role }))));
    }
  });

  it("refuses a token signed by another key under the same kid", async () => {
    const impostor = await makeSigningKey(key.kid, "ES256");
    await refused(auth().verifyAccessToken(await signWith(impostor, supabaseAccessClaims())));
  });

  it("makes admins from app_metadata.role = admin (set only by the service role) or ADMIN_EMAILS", async () => {
    const byRole = await signWith(
      key,
      supabaseAccessClaims({ app_metadata: { provider: "email", providers: ["email"], role: "admin" } }),
    );
    await expect(auth().verifyAccessToken(byRole)).resolves.toMatchObject({ isAdmin: true });
    // user_metadata is the user's own to write: it grants nothing.
    const selfMade = await signWith(key, supabaseAccessClaims({ user_metadata: { role: "admin" } }));
    await expect(auth().verifyAccessToken(selfMade)).resolves.toMatchObject({ isAdmin: false });
    // A listed email counts once the token itself says it is verified (a Custom Access Token
    // Hook's claim); Supabase's user_metadata.email_verified is the user's to write.
    const unverified = await signWith(key, supabaseAccessClaims());
    await expect(
      auth({ adminEmails: ["USER@example.com"] }).verifyAccessToken(unverified),
    ).resolves.toMatchObject({ isAdmin: false });
    const byEmail = await signWith(key, supabaseAccessClaims({ email_verified: true }));
    await expect(
      auth({ adminEmails: ["USER@example.com"] }).verifyAccessToken(byEmail),
    ).resolves.toMatchObject({ isAdmin: true });
  });

  it("takes the JWKS over https only (plain http only on this machine)", () => {
    for (const url of ["http://project.supabase.co", "http://10.0.0.5:8000", "ftp://example.com"]) {
      expect(() => createAuthenticator({ mode: "supabase", supabaseUrl: url })).toThrow(
        AuthConfigurationError,
      );
    }
    for (const url of ["https://project.supabase.co", "http://localhost:54321", "http://[::1]:54321"]) {
      expect(() => createAuthenticator({ mode: "supabase", supabaseUrl: url })).not.toThrow();
    }
  });
});

describe("dev sign-in", () => {
  it("never makes an admin, whatever ADMIN_EMAILS says", async () => {
    const devSecret = new Uint8Array(32).fill(7);
    const dev = createAuthenticator({ mode: "dev", devSecret, adminEmails: ["boss@example.com"] });
    const issued = await issueDevToken({ email: "boss@example.com" }, devSecret);
    expect(issued.user.isAdmin).toBe(false);
    await expect(dev.verifyAccessToken(issued.accessToken)).resolves.toMatchObject({ isAdmin: false });
  });

  it("over https reads only the __Host- cookie: a plain one (plantable by a sibling subdomain) is ignored", async () => {
    const devSecret = new Uint8Array(32).fill(8);
    const { accessToken } = await issueDevToken({ email: "user@example.com" }, devSecret);
    const secure = createAuthenticator({ mode: "dev", devSecret, secureCookies: true });
    const withCookie = (cookie: string) =>
      new Request("https://app.example/api/credits", { headers: { cookie } });
    await expect(secure.authenticate(withCookie(`__Host-nb_session=${accessToken}`))).resolves.toMatchObject({
      email: "user@example.com",
    });
    await refused(secure.authenticate(withCookie(`nb_session=${accessToken}`)));
  });
});
