import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuthConfigurationError,
  createAuthenticator,
  DEV_SECRET_FILE_NAME,
  DEV_TOKEN_ISSUER,
  devSignInSchema,
  devUserId,
  issueDevToken,
  loadOrCreateDevSecret,
  SESSION_COOKIE_NAME,
  sessionCookie,
  UnauthorizedError,
} from "@/lib/auth";

const tempDirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nb-auth-"));
  tempDirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const secret = new Uint8Array(32).map((_, i) => i + 1);

describe("dev tokens", () => {
  it("round-trip: an issued token authenticates as the same user, from the bearer header or the cookie", async () => {
    const auth = createAuthenticator({ mode: "dev", devSecret: secret });
    const issued = await issueDevToken({ email: "Ada@Example.com " }, secret, { ttlSeconds: 3600 });
    expect(issued.user).toEqual({
      id: devUserId("ada@example.com"),
      email: "ada@example.com",
      isAdmin: false,
    });

    const viaBearer = await auth.authenticate(
      new Request("http://localhost/", { headers: { authorization: `Bearer ${issued.accessToken}` } }),
    );
    expect(viaBearer).toEqual(issued.user);

    const setCookie = sessionCookie(issued.accessToken, { secure: false, maxAgeSeconds: 3600 });
    const cookie = setCookie.split(";")[0]!;
    expect(cookie.startsWith(`${SESSION_COOKIE_NAME}=`)).toBe(true);
    const viaCookie = await auth.authenticate(new Request("http://localhost/", { headers: { cookie } }));
    expect(viaCookie).toEqual(issued.user);
  });

  it("has Supabase's shape: HS256, sub, email, aud/role authenticated, iss, iat, exp = iat + ttl", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const issued = await issueDevToken({ email: "ada@example.com" }, secret, { ttlSeconds: 600, now });
    expect(decodeProtectedHeader(issued.accessToken)).toMatchObject({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(issued.accessToken);
    const iat = Math.floor(now.getTime() / 1000);
    expect(claims).toMatchObject({
      sub: issued.user.id,
      email: "ada@example.com",
      aud: "authenticated",
      role: "authenticated",
      iss: DEV_TOKEN_ISSUER,
      iat,
      exp: iat + 600,
    });
    expect(issued.expiresAt).toBe(iat + 600);
  });

  it("the same email is always the same user; different emails are different users", () => {
    const id = devUserId("ada@example.com");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(devUserId("  ADA@example.COM")).toBe(id);
    expect(devUserId("bob@example.com")).not.toBe(id);
  });

  it("is refused once expired, or under another secret, or by a Supabase-mode server", async () => {
    const expired = await issueDevToken({ email: "ada@example.com" }, secret, {
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    const auth = createAuthenticator({ mode: "dev", devSecret: secret });
    const expiredError = await auth.verifyAccessToken(expired.accessToken).catch((e: unknown) => e);
    expect(expiredError).toBeInstanceOf(UnauthorizedError);
    expect((expiredError as UnauthorizedError).reason).toBe("token_expired");

    const fresh = await issueDevToken({ email: "ada@example.com" }, secret);
    const otherSecret = createAuthenticator({ mode: "dev", devSecret: new Uint8Array(32).fill(200) });
    await expect(otherSecret.verifyAccessToken(fresh.accessToken)).rejects.toBeInstanceOf(UnauthorizedError);

    const supabase = createAuthenticator({
      mode: "supabase",
      supabaseJwtSecret: "super-secret-jwt-token-with-at-least-32-characters-long",
    });
    await expect(supabase.verifyAccessToken(fresh.accessToken)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("refuses bad input and a weak secret", async () => {
    await expect(issueDevToken({ email: "not-an-email" }, secret)).rejects.toThrow(TypeError);
    await expect(issueDevToken({ email: "ada@example.com" }, new Uint8Array(16))).rejects.toBeInstanceOf(
      AuthConfigurationError,
    );
    await expect(issueDevToken({ email: "ada@example.com" }, secret, { ttlSeconds: 0 })).rejects.toThrow(
      TypeError,
    );
  });
});

describe("devSignInSchema", () => {
  it("accepts an email, trimmed and lower-cased", () => {
    expect(devSignInSchema.parse({ email: "  Ada@Example.COM " })).toEqual({ email: "ada@example.com" });
  });

  it("rejects non-emails, empty and over-long input", () => {
    for (const email of [
      "",
      "ada",
      "ada@",
      "@example.com",
      "a b@example.com",
      `${"a".repeat(250)}@example.com`,
    ]) {
      expect(devSignInSchema.safeParse({ email }).success, email).toBe(false);
    }
    expect(devSignInSchema.safeParse({}).success).toBe(false);
  });
});

describe("loadOrCreateDevSecret", () => {
  it("creates a 0600 secret file once and returns the same secret afterwards", () => {
    const dir = path.join(tempDir(), "nested", "data");
    const first = loadOrCreateDevSecret(dir);
    expect(first.byteLength).toBeGreaterThanOrEqual(32);
    const file = path.join(dir, DEV_SECRET_FILE_NAME);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(loadOrCreateDevSecret(dir))).toEqual(Buffer.from(first));
    expect(fs.readdirSync(dir)).toEqual([DEV_SECRET_FILE_NAME]);
  });

  it("tokens issued before a restart still verify after it", async () => {
    const dir = tempDir();
    const issued = await issueDevToken({ email: "ada@example.com" }, loadOrCreateDevSecret(dir));
    const afterRestart = createAuthenticator({ mode: "dev", devSecret: loadOrCreateDevSecret(dir) });
    await expect(afterRestart.verifyAccessToken(issued.accessToken)).resolves.toEqual(issued.user);
  });

  it("different data dirs get different secrets", () => {
    expect(Buffer.from(loadOrCreateDevSecret(tempDir()))).not.toEqual(
      Buffer.from(loadOrCreateDevSecret(tempDir())),
    );
  });

  it("refuses a corrupt file without printing its content", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, DEV_SECRET_FILE_NAME), "short-secret-value\n");
    let error: unknown;
    try {
      loadOrCreateDevSecret(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthConfigurationError);
    expect(inspect(error)).not.toContain("short-secret-value");
    expect(String(error)).toMatch(/corrupt/);
  });

  it("racing processes all end up with one and the same secret", async () => {
    const dir = path.join(tempDir(), "data");
    const goFile = path.join(path.dirname(dir), "go");
    const fixture = path.join(import.meta.dirname, "fixtures", "load-dev-secret.ts");
    const children: ChildProcess[] = [];
    try {
      const outputs = Array.from({ length: 4 }, () => {
        const child = spawn(process.execPath, ["--import", "tsx", fixture, dir, goFile], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        children.push(child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => {
          stdout += chunk;
        });
        child.stderr!.on("data", (chunk) => {
          stderr += chunk;
        });
        const ready = new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", () => stdout.includes("ready\n") && resolve());
          child.on("exit", () => reject(new Error(`child exited before ready: ${stderr}`)));
        });
        const done = new Promise<string>((resolve, reject) => {
          child.on("exit", (code) =>
            code === 0 ? resolve(stdout.replace("ready\n", "").trim()) : reject(new Error(stderr)),
          );
        });
        return { ready, done };
      });
      await Promise.all(outputs.map((o) => o.ready));
      fs.writeFileSync(goFile, "");
      const secrets = await Promise.all(outputs.map((o) => o.done));
      expect(secrets.every((s) => /^[0-9a-f]{64}$/.test(s))).toBe(true);
      expect(new Set(secrets).size).toBe(1);
      expect(Buffer.from(loadOrCreateDevSecret(dir)).toString("hex")).toBe(secrets[0]);
      expect(fs.readdirSync(dir)).toEqual([DEV_SECRET_FILE_NAME]);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
    }
  });
});
