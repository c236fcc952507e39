import { createHmac } from "node:crypto";
import { inspect } from "node:util";
import { exportJWK, exportSPKI, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthConfigurationError,
  type Authenticator,
  AuthProviderUnavailableError,
  createAuthenticator,
  MAX_TOKEN_LENGTH,
  UnauthorizedError,
  type UnauthorizedReason,
} from "@/lib/auth";
import {
  type JwksServer,
  makeSigningKey,
  type SigningKey,
  signHs256,
  signWith,
  startJwksServer,
  supabaseClaims,
  USER_ID,
  unsignedToken,
} from "./helpers";

/** Supabase's claims as the configured project issues them (`iss` = <SUPABASE_URL>/auth/v1). */
const claims = (overrides: Parameters<typeof supabaseClaims>[0] = {}) =>
  supabaseClaims({ iss: `${server.url}/auth/v1`, ...overrides });

const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

let server: JwksServer;
let es256: SigningKey;
let rs256: SigningKey;

beforeAll(async () => {
  es256 = await makeSigningKey("es-key-1", "ES256");
  rs256 = await makeSigningKey("rs-key-1", "RS256");
  server = await startJwksServer([es256.publicJwk, rs256.publicJwk]);
});

afterAll(async () => {
  await server.close();
});

function supabaseAuth(overrides: Partial<Parameters<typeof createAuthenticator>[0]> = {}): Authenticator {
  return createAuthenticator({
    mode: "supabase",
    supabaseUrl: server.url,
    supabaseJwtSecret: JWT_SECRET,
    jwks: { cooldownMs: 0 },
    ...overrides,
  });
}

async function refusal(auth: Authenticator, token: string): Promise<UnauthorizedError> {
  const error = await auth.verifyAccessToken(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "token should have been refused").toBeInstanceOf(UnauthorizedError);
  return error as UnauthorizedError;
}

describe("verifyAccessToken: the issue's matrix (Supabase mode, JWKS and secret both configured)", () => {
  interface Case {
    name: string;
    token: () => Promise<string>;
    accepted: boolean;
    reason?: UnauthorizedReason;
  }

  const cases: Case[] = [
    { name: "valid HS256", token: () => signHs256(claims(), JWT_SECRET), accepted: true },
    { name: "valid ES256 from the JWKS", token: () => signWith(es256, claims()), accepted: true },
    {
      name: "expired",
      token: () => signHs256(claims({ exp: Math.floor(Date.now() / 1000) - 3600 }), JWT_SECRET),
      accepted: false,
      reason: "token_expired",
    },
    {
      name: "wrong aud",
      token: () => signHs256(claims({ aud: "anon" }), JWT_SECRET),
      accepted: false,
      reason: "invalid_token",
    },
    {
      name: "wrong key (HS256, another secret)",
      token: () => signHs256(claims(), "another-secret-that-is-also-long-enough-to-use"),
      accepted: false,
      reason: "invalid_token",
    },
    {
      name: "wrong key (ES256 signed by a key not in the JWKS, same kid)",
      token: async () => {
        const impostor = await makeSigningKey(es256.kid, "ES256");
        return signWith(impostor, claims());
      },
      accepted: false,
      reason: "invalid_token",
    },
    {
      name: "alg none",
      token: async () => unsignedToken(claims()),
      accepted: false,
      reason: "unsupported_algorithm",
    },
    {
      name: "tampered payload (other sub, original HS256 signature)",
      token: async () => {
        const [header, , signature] = (await signHs256(claims(), JWT_SECRET)).split(".");
        const forged = Buffer.from(
          JSON.stringify(claims({ sub: "11111111-2222-4333-8444-555555555555" })),
        ).toString("base64url");
        return `${header}.${forged}.${signature}`;
      },
      accepted: false,
      reason: "invalid_token",
    },
    {
      name: "tampered payload (ES256)",
      token: async () => {
        const [header, , signature] = (await signWith(es256, claims())).split(".");
        const forged = Buffer.from(JSON.stringify(claims({ email: "admin@example.com" }))).toString(
          "base64url",
        );
        return `${header}.${forged}.${signature}`;
      },
      accepted: false,
      reason: "invalid_token",
    },
    { name: "garbage", token: async () => "not-a-jwt", accepted: false, reason: "malformed_token" },
    {
      name: "garbage in JWT shape",
      token: async () => "aaaa.bbbb.cccc",
      accepted: false,
      reason: "malformed_token",
    },
    { name: "empty", token: async () => "", accepted: false, reason: "malformed_token" },
    {
      name: "alg confusion: HS256 signed with the ES256 public key (SPKI PEM) as the secret",
      token: async () => {
        const pem = await exportSPKI(es256.publicKey);
        const payload = claims();
        const { SignJWT } = await import("jose");
        return new SignJWT(payload)
          .setProtectedHeader({ alg: "HS256", kid: es256.kid })
          .sign(new TextEncoder().encode(pem));
      },
      accepted: false,
      reason: "invalid_token",
    },
    {
      name: "alg confusion: HS256 signed with the RS256 public key (JWK JSON) as the secret",
      token: async () => {
        const jwkText = JSON.stringify(await exportJWK(rs256.publicKey));
        const { SignJWT } = await import("jose");
        return new SignJWT(claims())
          .setProtectedHeader({ alg: "HS256", kid: rs256.kid })
          .sign(new TextEncoder().encode(jwkText));
      },
      accepted: false,
      reason: "invalid_token",
    },
  ];

  for (const testCase of cases) {
    it(`${testCase.accepted ? "accepts" : "refuses"}: ${testCase.name}`, async () => {
      const auth = supabaseAuth();
      const token = await testCase.token();
      if (testCase.accepted) {
        await expect(auth.verifyAccessToken(token)).resolves.toEqual({
          id: USER_ID,
          email: "user@example.com",
          isAdmin: false,
        });
        return;
      }
      const error = await refusal(auth, token);
      expect(error.reason).toBe(testCase.reason);
      expect(error.code).toBe("unauthorized");
      // Nothing secret leaks through the error, however it is printed.
      const printed = [error.message, error.hint ?? "", inspect(error), JSON.stringify(error)].join("\n");
      if (token) {
        expect(printed).not.toContain(token);
        for (const part of token.split(".").filter((p) => p.length > 8)) expect(printed).not.toContain(part);
      }
      expect(printed).not.toContain(JWT_SECRET);
    });
  }

  it("only the two valid tokens pass the whole matrix", async () => {
    const auth = supabaseAuth();
    const passed: string[] = [];
    for (const testCase of cases) {
      const ok = await auth.verifyAccessToken(await testCase.token()).then(
        () => true,
        () => false,
      );
      if (ok) passed.push(testCase.name);
    }
    expect(passed).toEqual(["valid HS256", "valid ES256 from the JWKS"]);
  });
});

describe("each verifier accepts only its own algorithms", () => {
  it("with only a JWKS, an HS256 token is refused, even one signed with the public key", async () => {
    const auth = supabaseAuth({ supabaseJwtSecret: undefined });
    const pem = await exportSPKI(es256.publicKey);
    const { SignJWT } = await import("jose");
    const confused = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", kid: es256.kid })
      .sign(new TextEncoder().encode(pem));
    const error = await refusal(auth, confused);
    expect(error.reason).toBe("unsupported_algorithm");
    expect(error.hint).toMatch(/SUPABASE_JWT_SECRET/);
    await expect(auth.verifyAccessToken(await signWith(es256, claims()))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("with only a secret, an ES256 token is refused and the JWKS is never fetched", async () => {
    const before = server.fetches;
    const auth = supabaseAuth({ supabaseUrl: undefined });
    const error = await refusal(auth, await signWith(es256, claims()));
    expect(error.reason).toBe("unsupported_algorithm");
    expect(server.fetches).toBe(before);
    await expect(auth.verifyAccessToken(await signHs256(claims(), JWT_SECRET))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("accepts RS256 from the JWKS, and refuses HS384/HS512 signed with the right secret", async () => {
    const auth = supabaseAuth();
    await expect(auth.verifyAccessToken(await signWith(rs256, claims()))).resolves.toMatchObject({
      id: USER_ID,
    });
    const { SignJWT } = await import("jose");
    const hs512 = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS512" })
      .sign(new TextEncoder().encode(JWT_SECRET));
    expect((await refusal(auth, hs512)).reason).toBe("unsupported_algorithm");
  });
});

describe("claims", () => {
  it("requires sub as a user UUID, and exp", async () => {
    const auth = supabaseAuth();
    const { sub: _sub, ...withoutSub } = claims();
    const { exp: _exp, ...withoutExp } = claims();
    expect((await refusal(auth, await signHs256(withoutSub, JWT_SECRET))).reason).toBe("invalid_token");
    expect((await refusal(auth, await signHs256(withoutExp, JWT_SECRET))).reason).toBe("invalid_token");
    const notUuid = await signHs256(claims({ sub: "service_role" }), JWT_SECRET);
    expect((await refusal(auth, notUuid)).reason).toBe("invalid_token");
  });

  it("refuses a Supabase anon/service key (no aud, no sub) used as an access token", async () => {
    const auth = supabaseAuth();
    const anonKey = await signHs256(
      { iss: "supabase", ref: "abcd", role: "anon", iat: 1, exp: 4e9 },
      JWT_SECRET,
    );
    expect((await refusal(auth, anonKey)).reason).toBe("invalid_token");
  });

  it("tolerates a few seconds of clock skew but not more", async () => {
    const auth = supabaseAuth({ clockToleranceSeconds: 30 });
    const now = Math.floor(Date.now() / 1000);
    const justExpired = await signHs256(claims({ exp: now - 5 }), JWT_SECRET);
    await expect(auth.verifyAccessToken(justExpired)).resolves.toMatchObject({ id: USER_ID });
    const longExpired = await signHs256(claims({ exp: now - 120 }), JWT_SECRET);
    expect((await refusal(auth, longExpired)).reason).toBe("token_expired");
  });

  it("returns no email when the token has none", async () => {
    const auth = supabaseAuth();
    const { email: _email, ...noEmail } = claims();
    await expect(auth.verifyAccessToken(await signHs256(noEmail, JWT_SECRET))).resolves.toEqual({
      id: USER_ID,
      isAdmin: false,
    });
  });
});

describe("the remote JWKS", () => {
  it("is fetched once and cached across verifications", async () => {
    const own = await startJwksServer([es256.publicJwk]);
    try {
      const auth = createAuthenticator({ mode: "supabase", supabaseUrl: own.url });
      for (let i = 0; i < 3; i++)
        await auth.verifyAccessToken(await signWith(es256, claims({ iss: `${own.url}/auth/v1` })));
      expect(own.fetches).toBe(1);
    } finally {
      await own.close();
    }
  });

  it("refetches on an unknown kid, so a rotated key is accepted", async () => {
    const own = await startJwksServer([es256.publicJwk]);
    try {
      const auth = createAuthenticator({ mode: "supabase", supabaseUrl: own.url, jwks: { cooldownMs: 0 } });
      await auth.verifyAccessToken(await signWith(es256, claims({ iss: `${own.url}/auth/v1` })));
      expect(own.fetches).toBe(1);

      const rotated = await makeSigningKey("es-key-2", "ES256");
      own.keys = [rotated.publicJwk];
      await expect(
        auth.verifyAccessToken(await signWith(rotated, claims({ iss: `${own.url}/auth/v1` }))),
      ).resolves.toMatchObject({
        id: USER_ID,
      });
      expect(own.fetches).toBe(2);

      // The old key was withdrawn from the JWKS: its tokens no longer pass.
      const withdrawn = await refusal(auth, await signWith(es256, claims({ iss: `${own.url}/auth/v1` })));
      expect(withdrawn.reason).toBe("invalid_token");
    } finally {
      await own.close();
    }
  });

  it("refuses a kid that is still unknown after the refetch, as unauthorized", async () => {
    const own = await startJwksServer([es256.publicJwk]);
    try {
      const auth = createAuthenticator({ mode: "supabase", supabaseUrl: own.url, jwks: { cooldownMs: 0 } });
      const stranger = await makeSigningKey("unknown-kid", "ES256");
      expect(
        await refusal(auth, await signWith(stranger, claims({ iss: `${own.url}/auth/v1` }))),
      ).toMatchObject({ reason: "invalid_token", hint: "no key in the JWKS matches the token's kid/alg" });
    } finally {
      await own.close();
    }
  });

  it("unreachable or failing keys are an upstream problem, not a 401", async () => {
    const own = await startJwksServer([es256.publicJwk]);
    const token = await signWith(es256, claims({ iss: `${own.url}/auth/v1` }));
    try {
      own.mode = "error";
      const failing = createAuthenticator({ mode: "supabase", supabaseUrl: own.url });
      const error = await failing.verifyAccessToken(token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthProviderUnavailableError);
      expect((error as AuthProviderUnavailableError).code).toBe("upstream_error");
      // The operator's log says what failed: the class and message (and its cause's, when it has one).
      expect((error as AuthProviderUnavailableError).detail).toMatch(/^JOSEError: Expected 200 OK/);

      own.mode = "hang";
      const hanging = createAuthenticator({
        mode: "supabase",
        supabaseUrl: own.url,
        jwks: { timeoutMs: 200 },
      });
      const timeout = await hanging.verifyAccessToken(token).catch((e: unknown) => e);
      expect(timeout).toBeInstanceOf(AuthProviderUnavailableError);
      expect((timeout as AuthProviderUnavailableError).detail).toBe(
        "JWKSTimeout: request timed out (The operation was aborted due to timeout)",
      );
      expect(inspect(timeout)).not.toContain(token);
    } finally {
      await own.close();
    }
  });
});

describe("the rules at their edges (issue 17)", () => {
  it("takes a clock tolerance from 0 to 300 seconds, and refuses anything else at construction", () => {
    for (const clockToleranceSeconds of [0, 300]) {
      expect(() => supabaseAuth({ clockToleranceSeconds })).not.toThrow();
    }
    for (const clockToleranceSeconds of [-1, -0.5, 300.5, 301, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => supabaseAuth({ clockToleranceSeconds })).toThrow(
        new AuthConfigurationError("clockToleranceSeconds must be between 0 and 300."),
      );
    }
  });

  it("refuses a devSecret in Supabase mode, and a mode it does not know", () => {
    expect(() => supabaseAuth({ devSecret: new Uint8Array(32) })).toThrow(
      new AuthConfigurationError("Supabase auth takes no devSecret."),
    );
    expect(() =>
      createAuthenticator({
        mode: "firebase" as "dev",
        supabaseJwtSecret: JWT_SECRET,
        devSecret: new Uint8Array(32),
      }),
    ).toThrow(new AuthConfigurationError("Auth mode must be 'supabase' or 'dev'."));
    expect(() => createAuthenticator({ mode: "supabase", supabaseUrl: "not a url" })).toThrow(
      new AuthConfigurationError("supabaseUrl is not a URL."),
    );
  });

  it("takes the project URL over http only on this machine", () => {
    for (const supabaseUrl of [
      "http://project.example.com",
      "http://10.0.0.1:54321",
      "ws://localhost:54321",
    ]) {
      expect(() => createAuthenticator({ mode: "supabase", supabaseUrl })).toThrow(
        new AuthConfigurationError("supabaseUrl must be https (plain http only for localhost)."),
      );
    }
    for (const supabaseUrl of [
      "https://project.example.com",
      "http://localhost:54321",
      "http://[::1]:54321",
    ]) {
      expect(() => createAuthenticator({ mode: "supabase", supabaseUrl })).not.toThrow();
    }
  });

  it("expects tokens from the project URL without its trailing slashes", async () => {
    const auth = supabaseAuth({ supabaseUrl: `${server.url}///` });
    await expect(auth.verifyAccessToken(await signHs256(claims(), JWT_SECRET))).resolves.toMatchObject({
      id: USER_ID,
    });
    await expect(auth.verifyAccessToken(await signWith(es256, claims()))).resolves.toMatchObject({
      id: USER_ID,
    });
  });

  it("refuses a validly signed token longer than MAX_TOKEN_LENGTH as malformed, and takes one just under", async () => {
    const auth = supabaseAuth();
    const sized = async (length: number) => {
      const base = await signHs256(claims({ pad: "" }), JWT_SECRET);
      // Each character of padding adds 4/3 characters of base64url: pad until the token is `length` long.
      let pad = "x".repeat(Math.floor(((length - base.length) * 3) / 4));
      let token = await signHs256(claims({ pad }), JWT_SECRET);
      while (token.length < length) {
        pad += "x";
        token = await signHs256(claims({ pad }), JWT_SECRET);
      }
      return token;
    };
    const over = await sized(MAX_TOKEN_LENGTH + 1);
    expect(over.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect(over.length).toBeLessThan(MAX_TOKEN_LENGTH + 4);
    expect((await refusal(auth, over)).reason).toBe("malformed_token");
    const under = await sized(MAX_TOKEN_LENGTH - 3);
    expect(under.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    await expect(auth.verifyAccessToken(under)).resolves.toMatchObject({ id: USER_ID });
  });

  it("takes a validly signed token of exactly MAX_TOKEN_LENGTH characters", async () => {
    const auth = supabaseAuth();
    const key = new TextEncoder().encode(JWT_SECRET);
    // base64url lengths skip some values; a header kid of 0–3 characters reaches every total length.
    let exact: string | undefined;
    for (let kid = 0; kid < 4 && !exact; kid++) {
      const sign = (pad: string) =>
        new SignJWT(claims({ pad }))
          .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: "k".repeat(kid) })
          .sign(key);
      const base = (await sign("")).length;
      for (let n = Math.floor(((MAX_TOKEN_LENGTH - base) * 3) / 4) - 2; n < MAX_TOKEN_LENGTH; n++) {
        const token = await sign("x".repeat(n));
        if (token.length === MAX_TOKEN_LENGTH) exact = token;
        if (token.length >= MAX_TOKEN_LENGTH) break;
      }
    }
    expect(exact?.length).toBe(MAX_TOKEN_LENGTH);
    await expect(auth.verifyAccessToken(exact as string)).resolves.toMatchObject({ id: USER_ID });
  });

  it("says why an asymmetric token is refused: dev mode never takes one, Supabase mode needs a URL", async () => {
    const dev = createAuthenticator({ mode: "dev", devSecret: new Uint8Array(32).fill(7) });
    expect(await refusal(dev, await signWith(es256, claims()))).toMatchObject({
      reason: "unsupported_algorithm",
      hint: "asymmetric token but dev auth only accepts its own HS256 tokens",
    });
    const secretOnly = createAuthenticator({ mode: "supabase", supabaseJwtSecret: JWT_SECRET });
    expect(await refusal(secretOnly, await signWith(es256, claims()))).toMatchObject({
      reason: "unsupported_algorithm",
      hint: "asymmetric token but no JWKS is configured (set SUPABASE_URL)",
    });
  });

  it("names the claim that made a token no user's", async () => {
    const auth = supabaseAuth();
    expect(await refusal(auth, await signHs256(claims({ sub: "service_role" }), JWT_SECRET))).toMatchObject({
      reason: "invalid_token",
      hint: "sub is not a user UUID",
    });
    expect(await refusal(auth, await signHs256(claims({ role: "anon" }), JWT_SECRET))).toMatchObject({
      reason: "invalid_token",
      hint: "role is not authenticated",
    });
    expect(await refusal(auth, await signHs256(claims({ is_anonymous: true }), JWT_SECRET))).toMatchObject({
      reason: "invalid_token",
      hint: "anonymous users are not accepted (ALLOW_ANONYMOUS_USERS)",
    });
    await expect(
      supabaseAuth({ allowAnonymous: true }).verifyAccessToken(
        await signHs256(claims({ is_anonymous: true }), JWT_SECRET),
      ),
    ).resolves.toMatchObject({ id: USER_ID });
  });

  it("returns no email for an empty or non-string one, and the email otherwise", async () => {
    const auth = supabaseAuth();
    for (const email of ["", 42, null]) {
      await expect(auth.verifyAccessToken(await signHs256(claims({ email }), JWT_SECRET))).resolves.toEqual({
        id: USER_ID,
        isAdmin: false,
      });
    }
    await expect(auth.verifyAccessToken(await signHs256(claims(), JWT_SECRET))).resolves.toEqual({
      id: USER_ID,
      isAdmin: false,
      email: "user@example.com",
    });
  });

  it("reads the admin role only from an app_metadata object", async () => {
    const auth = supabaseAuth();
    for (const app_metadata of [null, "admin", ["admin"], { role: "user" }, {}]) {
      await expect(
        auth.verifyAccessToken(await signHs256(claims({ app_metadata }), JWT_SECRET)),
      ).resolves.toMatchObject({ isAdmin: false });
    }
    await expect(
      auth.verifyAccessToken(await signHs256(claims({ app_metadata: { role: "admin" } }), JWT_SECRET)),
    ).resolves.toMatchObject({ isAdmin: true });
  });

  it("treats an Authorization header that merely contains 'Bearer' as another scheme", async () => {
    const auth = supabaseAuth();
    const token = await signHs256(claims(), JWT_SECRET);
    for (const authorization of [`NotBearer ${token}`, `BearerX ${token}`, `Basic Bearer ${token}`]) {
      const error = await auth
        .authenticate(new Request("http://localhost/", { headers: { authorization } }))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ reason: "missing_token" });
    }
  });
});

describe("what jose refuses, as the caller sees it (issue 17)", () => {
  it("refuses a token with a critical header parameter it does not know as an unsupported algorithm", async () => {
    // Signed by hand: jose will not sign with a critical parameter it does not know either.
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${encode({ alg: "HS256", typ: "JWT", crit: ["x-unknown"], "x-unknown": 1 })}.${encode(claims())}`;
    const token = `${input}.${createHmac("sha256", JWT_SECRET).update(input).digest("base64url")}`;
    expect((await refusal(supabaseAuth(), token)).reason).toBe("unsupported_algorithm");
  });

  it("names jose's code for a bad signature", async () => {
    const [header, payload] = (await signHs256(claims(), JWT_SECRET)).split(".");
    const forged = `${header}.${payload}.${(await signHs256(claims(), "another-secret-of-at-least-32-characters!")).split(".")[2]}`;
    expect(await refusal(supabaseAuth(), forged)).toMatchObject({
      reason: "invalid_token",
      hint: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    });
  });

  it("requires exp and the project's iss from both verifiers", async () => {
    const auth = supabaseAuth();
    const { exp: _exp, ...withoutExp } = claims();
    expect((await refusal(auth, await signWith(es256, withoutExp))).reason).toBe("invalid_token");
    const foreign = claims({ iss: "https://other-project.supabase.co/auth/v1" });
    expect((await refusal(auth, await signHs256(foreign, JWT_SECRET))).reason).toBe("invalid_token");
    expect((await refusal(auth, await signWith(es256, foreign))).reason).toBe("invalid_token");
  });

  it("leaves email out of a user that has none, and makes no one an admin by email without adminEmails", async () => {
    const { email: _email, ...noEmail } = claims();
    const user = await supabaseAuth().verifyAccessToken(await signHs256(noEmail, JWT_SECRET));
    expect(Object.keys(user)).not.toContain("email");
    const odd = await supabaseAuth().verifyAccessToken(
      await signHs256(claims({ email: "Stryker was here" }), JWT_SECRET),
    );
    expect(odd.isAdmin).toBe(false);
  });
});
