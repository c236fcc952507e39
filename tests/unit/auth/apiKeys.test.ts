/**
 * Personal API keys in lib/auth (DESIGN.md §3 "API keys"): the key's shape, what is stored, and
 * how a bearer `nbk_…` authenticates — refused when unknown, malformed or revoked, never an admin,
 * its use recorded at most once a minute, and never tried as a JWT.
 */
import { describe, expect, it } from "vitest";
import {
  API_KEY_PATTERN,
  type ApiKeyRecord,
  containsApiKey,
  createApiKeyVerifier,
  createAuthenticator,
  generateApiKey,
  hashApiKey,
  isApiKeyToken,
  LAST_USED_EVERY_MS,
  UnauthorizedError,
} from "@/lib/auth";
import { signHs256, supabaseClaims, USER_ID } from "./helpers";

const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

function memoryStore(records: ApiKeyRecord[]) {
  const touched: string[] = [];
  const looked: string[] = [];
  return {
    touched,
    looked,
    store: {
      findByHash: async (keyHash: string) => {
        looked.push(keyHash);
        return records.find((r) => r.keyHash === keyHash);
      },
      touch: async (id: string) => {
        touched.push(id);
      },
    },
  };
}

function recordOf(secret: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: "k1",
    userId: USER_ID,
    email: "owner@example.com",
    keyHash: hashApiKey(secret),
    lastUsedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "should have been refused").toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

describe("generateApiKey", () => {
  it("is nbk_ and 32 random bytes in base64url, stored as its SHA-256 with its first 12 characters", () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.secret).toMatch(/^nbk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.secret.slice(4), "base64url")).toHaveLength(32);
    expect(a.secret).not.toBe(b.secret);
    expect(a.keyHash).toBe(hashApiKey(a.secret));
    expect(a.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.secret.slice(0, 12));
    expect(a.keyHash).not.toContain(a.secret.slice(4, 20));
  });

  it("hashApiKey is SHA-256 in hex", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("recognises keys in text and tokens meant as keys", () => {
    const { secret } = generateApiKey();
    expect(API_KEY_PATTERN.test(secret)).toBe(true);
    expect(API_KEY_PATTERN.test(`${secret}x`)).toBe(false);
    expect(API_KEY_PATTERN.test(`x${secret}`)).toBe(false);
    expect(containsApiKey(`/api/credits?key=${secret}`)).toBe(true);
    expect(containsApiKey(`/api/credits?key=${secret}`)).toBe(true); // no state between calls
    expect(containsApiKey("/api/credits?key=nbk_short")).toBe(false);
    expect(isApiKeyToken("nbk_anything")).toBe(true);
    expect(isApiKeyToken("eyJhbGciOi.x.y")).toBe(false);
    expect(isApiKeyToken("xnbk_")).toBe(false);
  });
});

describe("createApiKeyVerifier", () => {
  it("authenticates a stored key as its owner, never as an admin, carrying the key's id", async () => {
    const { secret } = generateApiKey();
    const { store, looked } = memoryStore([recordOf(secret)]);
    const user = await createApiKeyVerifier({ store })(secret);
    expect(user).toEqual({ id: USER_ID, email: "owner@example.com", isAdmin: false, apiKeyId: "k1" });
    expect(looked).toEqual([hashApiKey(secret)]);
  });

  it("leaves the email out when the owner has none", async () => {
    const { secret } = generateApiKey();
    const { store } = memoryStore([recordOf(secret, { email: null })]);
    const user = await createApiKeyVerifier({ store })(secret);
    expect(user).toEqual({ id: USER_ID, isAdmin: false, apiKeyId: "k1" });
    expect("email" in user).toBe(false);
  });

  it("refuses an unknown, a malformed and a revoked key, and never counts or records them", async () => {
    const { secret } = generateApiKey();
    const revoked = generateApiKey().secret;
    const { store, touched, looked } = memoryStore([recordOf(revoked, { revokedAt: new Date() })]);
    const used: string[] = [];
    const verify = createApiKeyVerifier({ store, onUse: async (id) => void used.push(id) });
    expect((await refusal(verify(secret))).reason).toBe("invalid_token");
    expect((await refusal(verify("nbk_short"))).reason).toBe("malformed_token");
    expect((await refusal(verify(`${secret}=`))).reason).toBe("malformed_token");
    expect(looked).toHaveLength(1); // malformed keys never reach the store
    expect((await refusal(verify(revoked))).reason).toBe("key_revoked");
    expect(touched).toEqual([]);
    expect(used).toEqual([]);
  });

  it("refuses a row whose stored hash is not the key's (a store that matched loosely)", async () => {
    const { secret } = generateApiKey();
    const other = recordOf(generateApiKey().secret);
    const store = { findByHash: async () => other, touch: async () => {} };
    expect((await refusal(createApiKeyVerifier({ store })(secret))).reason).toBe("invalid_token");
    const shorter = { ...other, keyHash: hashApiKey(secret).slice(0, 63) };
    const store2 = { findByHash: async () => shorter, touch: async () => {} };
    expect((await refusal(createApiKeyVerifier({ store: store2 })(secret))).reason).toBe("invalid_token");
  });

  it("records a use when none was, or the last is a minute old; not more often", async () => {
    const now = 1_800_000_000_000;
    const keys = [generateApiKey().secret, generateApiKey().secret, generateApiKey().secret];
    const { store, touched } = memoryStore([
      recordOf(keys[0]!, { id: "never" }),
      recordOf(keys[1]!, { id: "minute", lastUsedAt: new Date(now - LAST_USED_EVERY_MS) }),
      recordOf(keys[2]!, { id: "recent", lastUsedAt: new Date(now - LAST_USED_EVERY_MS + 1) }),
    ]);
    const verify = createApiKeyVerifier({ store, now: () => now });
    for (const key of keys) await verify(key);
    expect(touched).toEqual(["never", "minute"]);
    expect(LAST_USED_EVERY_MS).toBe(60_000);
  });

  it("counts each use against the key's limit, whose refusal refuses the request", async () => {
    const { secret } = generateApiKey();
    const { store, touched } = memoryStore([recordOf(secret)]);
    const used: string[] = [];
    const limited = new Error("429");
    const verify = createApiKeyVerifier({
      store,
      onUse: async (id) => {
        used.push(id);
        if (used.length > 1) throw limited;
      },
    });
    await verify(secret);
    await expect(verify(secret)).rejects.toBe(limited);
    expect(used).toEqual(["k1", "k1"]);
    expect(touched).toEqual(["k1"]);
  });
});

describe("the authenticator with API keys", () => {
  const { secret } = generateApiKey();
  const { store } = memoryStore([recordOf(secret)]);
  const auth = createAuthenticator({
    mode: "supabase",
    supabaseJwtSecret: JWT_SECRET,
    apiKeys: createApiKeyVerifier({ store }),
  });
  const bearer = (token: string, extra: Record<string, string> = {}) =>
    new Request("http://localhost/api/credits", { headers: { authorization: `Bearer ${token}`, ...extra } });

  it("takes a bearer nbk_ key as the key's owner", async () => {
    expect(await auth.authenticate(bearer(secret))).toMatchObject({ id: USER_ID, apiKeyId: "k1" });
  });

  it("still takes JWTs, which carry no key id", async () => {
    const token = await signHs256(supabaseClaims(), JWT_SECRET);
    const user = await auth.authenticate(bearer(token));
    expect(user.id).toBe(USER_ID);
    expect(user.apiKeyId).toBeUndefined();
  });

  it("names an OAuth token's client (client_id), and no client for a session token", async () => {
    const oauth = await signHs256(supabaseClaims({ client_id: "claude-desktop" }), JWT_SECRET);
    expect((await auth.authenticate(bearer(oauth))).clientId).toBe("claude-desktop");
    for (const clientId of ["", 42]) {
      const odd = await signHs256(supabaseClaims({ client_id: clientId }), JWT_SECRET);
      expect("clientId" in (await auth.authenticate(bearer(odd)))).toBe(false);
    }
    const session = await signHs256(supabaseClaims(), JWT_SECRET);
    expect("clientId" in (await auth.authenticate(bearer(session)))).toBe(false);
  });

  it("refuses an unknown key without falling back to the session cookie", async () => {
    const cookieToken = await signHs256(supabaseClaims(), JWT_SECRET);
    const request = bearer(generateApiKey().secret, { cookie: `nb_session=${cookieToken}` });
    expect((await refusal(auth.authenticate(request))).reason).toBe("invalid_token");
  });

  it("without a key store, a key is a malformed token", async () => {
    const plain = createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });
    expect((await refusal(plain.authenticate(bearer(secret)))).reason).toBe("malformed_token");
  });

  it("never ends a session for a key at sign-out", async () => {
    const revoked: string[] = [];
    const withSessions = createAuthenticator({
      mode: "supabase",
      supabaseJwtSecret: JWT_SECRET,
      apiKeys: createApiKeyVerifier({ store }),
      sessions: { isRevoked: async () => false, revoke: async (s) => void revoked.push(s.sessionId) },
    });
    await withSessions.signOut(bearer(secret));
    expect(revoked).toEqual([]);
    expect(await withSessions.authenticate(bearer(secret))).toMatchObject({ apiKeyId: "k1" });
  });
});
