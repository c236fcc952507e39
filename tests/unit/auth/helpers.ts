/** Test doubles for lib/auth: a local stand-in for Supabase's JWKS endpoint, and token minting. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

export const USER_ID = "0f8fad5b-d9cb-469f-a165-70867728950e";
export const JWKS_PATH = "/auth/v1/.well-known/jwks.json";

export interface SigningKey {
  kid: string;
  alg: "ES256" | "RS256";
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeSigningKey(kid: string, alg: "ES256" | "RS256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

export function supabaseClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: USER_ID,
    aud: "authenticated",
    role: "authenticated",
    email: "user@example.com",
    iss: "http://127.0.0.1/auth/v1",
    iat: now,
    exp: now + 3600,
    ...overrides,
  };
}

export async function signHs256(claims: JWTPayload, secret: Uint8Array | string): Promise<string> {
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
}

export async function signWith(key: SigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .sign(key.privateKey);
}

/** A compact JWS with `alg: none` and an empty signature. */
export function unsignedToken(claims: JWTPayload): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
}

/**
 * Serves a JWKS the test can swap at any time, and counts fetches. Listens on 127.0.0.1, port 0.
 * `mode: "hang"` accepts requests and never answers (for timeouts); `"error"` answers 500.
 */
export interface JwksServer {
  url: string;
  fetches: number;
  keys: JWK[];
  mode: "ok" | "hang" | "error";
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { fetches: 0, keys, mode: "ok" as JwksServer["mode"] };
  const server = http.createServer((req, res) => {
    if (req.url !== JWKS_PATH) {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    if (state.mode === "hang") return;
    if (state.mode === "error") {
      res.writeHead(500).end("down");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get fetches() {
      return state.fetches;
    },
    set fetches(value) {
      state.fetches = value;
    },
    get keys() {
      return state.keys;
    },
    set keys(value) {
      state.keys = value;
    },
    get mode() {
      return state.mode;
    },
    set mode(value) {
      state.mode = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
