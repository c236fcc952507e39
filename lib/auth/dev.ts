/**
 * Local dev sign-in (DESIGN.md §2): with no Supabase configured, anyone who can reach the app signs
 * in with just an email and gets a token in Supabase's format, signed HS256 with a secret kept in
 * DATA_DIR. The rest of the app cannot tell the two modes apart.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { SignJWT } from "jose";
import { z } from "zod";
import { AuthConfigurationError } from "./errors";
import { type AuthUser, normalizeEmail } from "./user";

/** `iss` of dev tokens; the dev verifier requires it. */
export const DEV_TOKEN_ISSUER = "nano-banana-studio/dev-auth";
/**
 * Half a day: a demo session long enough. Sign-out ends the session for good (its `session_id`
 * is recorded, lib/db/sessions.ts); the expiry bounds a token that is never signed out.
 */
export const DEV_TOKEN_DEFAULT_TTL_SECONDS = 12 * 60 * 60;
export const DEV_SECRET_BYTES = 32;
export const DEV_SECRET_FILE_NAME = "dev-auth-secret";

/** Fixed namespace for the name-based (v5) UUIDs of dev users. Changing it renames every dev user. */
const DEV_USER_NAMESPACE = "ee7208e8-bec9-4f34-81de-d6f4f1fdd0cb";

/** Body of `POST /api/auth/dev`. The email comes out trimmed and lower-cased. */
export const devSignInSchema = z.object({
  email: z.string().trim().toLowerCase().max(254).pipe(z.email()),
});
export type DevSignIn = z.infer<typeof devSignInSchema>;

/** The dev user's id: a UUIDv5 of the normalized email, so the same email is always the same user. */
export function devUserId(email: string): string {
  const namespace = Buffer.from(DEV_USER_NAMESPACE.replaceAll("-", ""), "hex");
  const hash = createHash("sha1").update(namespace).update(normalizeEmail(email), "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface IssueDevTokenOptions {
  ttlSeconds?: number;
  now?: Date;
}

export interface DevToken {
  accessToken: string;
  user: AuthUser;
  /** Unix seconds, like Supabase's `session.expires_at`. */
  expiresAt: number;
}

export async function issueDevToken(
  input: { email: string },
  secret: Uint8Array,
  options: IssueDevTokenOptions = {},
): Promise<DevToken> {
  assertDevSecret(secret);
  const parsed = devSignInSchema.safeParse(input);
  if (!parsed.success) throw new TypeError("issueDevToken: not a valid email address");
  const ttlSeconds = options.ttlSeconds ?? DEV_TOKEN_DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError("issueDevToken: ttlSeconds must be a positive integer");
  }
  const email = parsed.data.email;
  const id = devUserId(email);
  const issuedAt = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const expiresAt = issuedAt + ttlSeconds;
  // The claims Supabase Auth puts in its access tokens, so both modes look the same downstream.
  const accessToken = await new SignJWT({
    email,
    role: "authenticated",
    aal: "aal1",
    session_id: randomUUID(),
    is_anonymous: false,
    app_metadata: { provider: "dev", providers: ["dev"] },
    user_metadata: {},
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(id)
    .setAudience("authenticated")
    .setIssuer(DEV_TOKEN_ISSUER)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(secret);
  return {
    accessToken,
    // Never an admin (DESIGN.md §6): anyone who reaches dev sign-in can claim any email.
    user: { id, email, isAdmin: false },
    expiresAt,
  };
}

export function assertDevSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.byteLength < DEV_SECRET_BYTES) {
    throw new AuthConfigurationError(`The dev signing secret must be at least ${DEV_SECRET_BYTES} bytes.`);
  }
}

/**
 * The dev signing secret in `<dataDir>/dev-auth-secret` (or another secret of this host in
 * `<dataDir>/<fileName>`), created on first use. Creation is atomic: the secret is written whole
 * to a private temp file, then hard-linked into place, which fails if the name exists; so racing
 * starts never see a partial file, and all end up with the winner's.
 */
export function loadOrCreateDevSecret(dataDir: string, fileName = DEV_SECRET_FILE_NAME): Uint8Array {
  const file = path.join(dataDir, fileName);
  const existing = readSecretFile(file);
  if (existing) return existing;

  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  fs.writeFileSync(temp, `${randomBytes(DEV_SECRET_BYTES).toString("base64url")}\n`, {
    mode: 0o600,
    flag: "wx",
  });
  try {
    fs.linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  const created = readSecretFile(file);
  if (!created) throw new AuthConfigurationError(`The signing secret ${file} vanished while being created.`);
  return created;
}

function readSecretFile(file: string): Uint8Array | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const encoded = text.trim();
  const secret = Buffer.from(encoded, "base64url");
  if (!/^[A-Za-z0-9_-]+$/.test(encoded) || secret.byteLength < DEV_SECRET_BYTES) {
    // Never echo the content: it is (or was meant to be) a secret.
    throw new AuthConfigurationError(
      `The signing secret ${file} is corrupt. Delete it to generate a new one (what it signed stops working).`,
    );
  }
  return new Uint8Array(secret);
}
