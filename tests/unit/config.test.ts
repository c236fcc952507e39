import { describe, expect, it } from "vitest";
import {
  ConfigError,
  concurrencyWarning,
  imageSecretConfigError,
  KIE_DEFAULT_BASE_URL,
  KIE_DEFAULT_UPLOAD_BASE_URL,
  loadConfig,
  signInConfigError,
} from "@/config";

describe("config", () => {
  it("runs on embedded defaults with an empty environment", () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.kie.mode).toBe("simulator");
    expect(config.kie.baseUrl).toBeUndefined(); // the server starts its own simulator
    expect(config.auth.mode).toBe("dev");
    expect(config.databaseUrl).toBeUndefined();
    expect(config.credits).toEqual({ initial: 10, perGeneration: 1, byModel: {} });
    expect(config.rateLimit).toEqual({ perUserPerMinute: 10, perIpPerMinute: 60, perApiKeyPerMinute: 120 });
    expect(config.maxUploadBytes).toBe(10 * 1024 * 1024);
    expect(config.kie).toMatchObject({
      model: "google/nano-banana",
      editModel: "google/nano-banana-edit",
      requestTimeoutMs: 30_000,
      pollBudgetMs: 90_000,
      timeoutMs: 180_000,
      queueMax: 500,
      useAsync: true,
      debugRoute: false,
      nsfwChecker: false,
    });
    expect(config.imageProxyAllowedHosts).toContain("tempfile.aiquickdraw.com");
  });

  it("keeps to KIE's account budget: 20 creates per 10 s and 8 reads per second unless told otherwise", () => {
    expect(loadConfig({}).kie.budget).toEqual({
      create: { limit: 20, windowMs: 10_000 },
      read: { limit: 8, windowMs: 1_000 },
    });
    expect(loadConfig({ KIE_CREATE_LIMIT: "15", KIE_READ_LIMIT: "5" }).kie.budget).toEqual({
      create: { limit: 15, windowMs: 10_000 },
      read: { limit: 5, windowMs: 1_000 },
    });
    expect(loadConfig({ KIE_CREATE_LIMIT: "40/20s", KIE_READ_LIMIT: "off" }).kie.budget).toEqual({
      create: { limit: 40, windowMs: 20_000 },
      read: undefined,
    });
    for (const bad of ["1", "0", "lots", "20/0s", "-3"]) {
      expect(() => loadConfig({ KIE_CREATE_LIMIT: bad })).toThrow(/KIE_CREATE_LIMIT/);
    }
  });

  it("switches to real KIE with KIE_API_KEY and to Supabase auth with either Supabase variable", () => {
    const kie = loadConfig({ KIE_API_KEY: "sk-live", SUPABASE_URL: "https://abc.supabase.co" });
    expect(kie.kie).toMatchObject({
      mode: "kie",
      baseUrl: KIE_DEFAULT_BASE_URL,
      uploadBaseUrl: KIE_DEFAULT_UPLOAD_BASE_URL,
    });
    expect(loadConfig({ SUPABASE_URL: "https://abc.supabase.co" }).auth.mode).toBe("supabase");
    expect(loadConfig({ SUPABASE_JWT_SECRET: "s3cret" }).auth.mode).toBe("supabase");
  });

  it("sends uploads to a custom KIE_BASE_URL unless KIE_UPLOAD_BASE_URL is given", () => {
    expect(
      loadConfig({ KIE_API_KEY: "k", DEV_SIGN_IN: "true", KIE_BASE_URL: "http://127.0.0.1:9000" }).kie
        .uploadBaseUrl,
    ).toBe("http://127.0.0.1:9000");
    expect(
      loadConfig({
        KIE_API_KEY: "k",
        DEV_SIGN_IN: "true",
        KIE_BASE_URL: "http://127.0.0.1:9000",
        KIE_UPLOAD_BASE_URL: "http://127.0.0.1:9001",
      }).kie.uploadBaseUrl,
    ).toBe("http://127.0.0.1:9001");
    expect(
      loadConfig({ KIE_API_KEY: "k", DEV_SIGN_IN: "true", KIE_BASE_URL: KIE_DEFAULT_BASE_URL }).kie
        .uploadBaseUrl,
    ).toBe(KIE_DEFAULT_UPLOAD_BASE_URL);
  });

  it("fails closed: dev sign-in beside a real KIE key or database needs DEV_SIGN_IN=true (DESIGN §6)", () => {
    const refusal = (env: Record<string, string>) => signInConfigError(loadConfig(env))?.message;
    const envs: Record<string, string>[] = [
      { KIE_API_KEY: "sk-live" },
      { DATABASE_URL: "postgres://db/app" },
    ];
    for (const env of envs) {
      expect(refusal(env)).toMatch(/DEV_SIGN_IN/);
      expect(refusal({ ...env, DEV_SIGN_IN: "false" })).toMatch(/DEV_SIGN_IN/);
      expect(refusal({ ...env, DEV_SIGN_IN: "true" })).toBeUndefined();
      expect(refusal({ ...env, SUPABASE_JWT_SECRET: "s3cret" })).toBeUndefined();
    }
    expect(refusal({ KIE_API_KEY: "sk-live" })).not.toContain("sk-live");
    // The embedded default (simulator, PGlite) needs no switch; an explicit "false" there leaves no sign-in.
    expect(refusal({})).toBeUndefined();
    expect(refusal({ DEV_SIGN_IN: "false" })).toMatch(/DEV_SIGN_IN/);
  });

  it("takes SUPABASE_URL over https only (plain http only for localhost)", () => {
    expect(() => loadConfig({ SUPABASE_URL: "http://abc.supabase.co" })).toThrow(/SUPABASE_URL/);
    expect(loadConfig({ SUPABASE_URL: "http://127.0.0.1:54321" }).auth.mode).toBe("supabase");
    expect(loadConfig({ SUPABASE_URL: "http://localhost:54321" }).auth.mode).toBe("supabase");
  });

  it("reads TRUSTED_PROXY_HOPS (default 1), ALLOW_ANONYMOUS_USERS (default false) and HOST", () => {
    expect(loadConfig({})).toMatchObject({ trustedProxyHops: 1, host: undefined });
    expect(loadConfig({}).auth.allowAnonymousUsers).toBe(false);
    const set = loadConfig({ TRUSTED_PROXY_HOPS: "2", ALLOW_ANONYMOUS_USERS: "true", HOST: "0.0.0.0" });
    expect(set).toMatchObject({ trustedProxyHops: 2, host: "0.0.0.0" });
    expect(set.auth.allowAnonymousUsers).toBe(true);
    expect(() => loadConfig({ TRUSTED_PROXY_HOPS: "0" })).toThrow(/TRUSTED_PROXY_HOPS/);
  });

  it("treats an empty variable as unset and trims trailing slashes from URLs", () => {
    const config = loadConfig({ KIE_API_KEY: "", PORT: "", KIE_BASE_URL: "http://127.0.0.1:8787/" });
    expect(config.kie.mode).toBe("simulator");
    expect(config.port).toBe(3000);
    expect(config.kie.baseUrl).toBe("http://127.0.0.1:8787");
    expect(config.kie.uploadBaseUrl).toBe("http://127.0.0.1:8787");
  });

  it("names every bad variable in one message", () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: "eighty",
        KIE_USE_ASYNC: "perhaps",
        APP_URL: "ftp://example.com",
        ADMIN_EMAILS: "ops@example.com, not-an-email",
        DATABASE_URL: "mysql://db",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ["PORT", "KIE_USE_ASYNC", "APP_URL", "ADMIN_EMAILS", "DATABASE_URL"]) {
      expect(message).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  it("never prints the value of a bad variable, so a secret cannot leak through the error", () => {
    const secretLookingValue = "postgres-password-hunter2";
    expect(() =>
      loadConfig({ DATABASE_URL: secretLookingValue, KIE_REQUEST_TIMEOUT_MS: "sk-abc123" }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ DATABASE_URL: secretLookingValue, KIE_REQUEST_TIMEOUT_MS: "sk-abc123" });
    } catch (error) {
      expect(String(error)).not.toContain(secretLookingValue);
      expect(String(error)).not.toContain("sk-abc123");
      expect(JSON.stringify(error)).not.toContain(secretLookingValue);
    }
  });

  it("parses booleans, lists and bounds", () => {
    const config = loadConfig({
      KIE_USE_ASYNC: "false",
      KIE_DEBUG_ROUTE: "1",
      ADMIN_EMAILS: "Ops@Example.com, boss@example.com",
      IMAGE_PROXY_ALLOWED_HOSTS: "Images.Example.com, cdn.example.com:8443",
    });
    expect(config.kie.useAsync).toBe(false);
    expect(config.kie.debugRoute).toBe(true);
    expect(config.auth.adminEmails).toEqual(["ops@example.com", "boss@example.com"]);
    expect(config.imageProxyAllowedHosts).toEqual(["images.example.com", "cdn.example.com:8443"]);
    expect(() => loadConfig({ PORT: "70000" })).toThrow(/PORT/);
    expect(() => loadConfig({ CREDITS_PER_GENERATION: "-1" })).toThrow(/CREDITS_PER_GENERATION/);
    expect(loadConfig({ KIE_QUEUE_MAX: "20" }).kie.queueMax).toBe(20);
    expect(() => loadConfig({ KIE_QUEUE_MAX: "0" })).toThrow(/KIE_QUEUE_MAX/);
  });

  it("reads MODEL_CREDITS and stops on a model the catalogue does not have", () => {
    const config = loadConfig({ MODEL_CREDITS: "nano-banana=1,nano-banana-pro=4,nano-banana-pro:4K=8" });
    expect(config.credits.byModel).toEqual({
      "nano-banana": 1,
      "nano-banana-pro": 4,
      "nano-banana-pro:4K": 8,
    });
    expect(() => loadConfig({ MODEL_CREDITS: "nano-banana-ultra=9" })).toThrow(
      /MODEL_CREDITS names an unknown model "nano-banana-ultra"/,
    );
    expect(() => loadConfig({ MODEL_CREDITS: "nano-banana:4K=2" })).toThrow(/MODEL_CREDITS/);
    expect(() => loadConfig({ MODEL_CREDITS: "nano-banana-2-lite:1K=2" })).toThrow(/MODEL_CREDITS/);
    expect(
      loadConfig({ MODEL_CREDITS: "nano-banana-2-1:4K=3,nano-banana-2-lite=1" }).credits.byModel,
    ).toEqual({
      "nano-banana-2-1:4K": 3,
      "nano-banana-2-lite": 1,
    });
  });

  it("turns KIE's nsfw_checker on only when KIE_NSFW_CHECKER says so", () => {
    expect(loadConfig({ KIE_NSFW_CHECKER: "true" }).kie.nsfwChecker).toBe(true);
    expect(loadConfig({ KIE_NSFW_CHECKER: "false" }).kie.nsfwChecker).toBe(false);
    expect(() => loadConfig({ KIE_NSFW_CHECKER: "maybe" })).toThrow(/KIE_NSFW_CHECKER/);
  });

  it("takes KIE_MODEL / KIE_EDIT_MODEL from the catalogue, by its ids or KIE's", () => {
    expect(loadConfig({ KIE_MODEL: "nano-banana-pro" }).kie.model).toBe("nano-banana-pro");
    // A model being retired still runs when the operator names it; nothing moves them off it.
    expect(loadConfig({ KIE_MODEL: "nano-banana-2" }).kie.model).toBe("nano-banana-2");
    expect(loadConfig({ KIE_MODEL: "nano-banana-2-lite" }).kie.model).toBe("nano-banana-2-lite");
    expect(() => loadConfig({ KIE_EDIT_MODEL: "google/imagen-4" })).toThrow(/KIE_EDIT_MODEL/);
  });

  it("runs one server process unless WEB_CONCURRENCY says more (1–64)", () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: "4" }).webConcurrency).toBe(4);
    for (const value of ["0", "65", "2.5", "all"]) {
      expect(() => loadConfig({ WEB_CONCURRENCY: value }), value).toThrow(/WEB_CONCURRENCY/);
    }
  });

  it("says at start-up that several processes without REDIS_URL each keep their own rate limits", () => {
    const database = { DATABASE_URL: "postgres://db.internal/app", KIE_API_KEY: "k" };
    expect(concurrencyWarning(loadConfig({ ...database }))).toBeUndefined();
    expect(
      concurrencyWarning(loadConfig({ ...database, WEB_CONCURRENCY: "3", REDIS_URL: "redis://cache:6379" })),
    ).toBeUndefined();
    const warning = concurrencyWarning(loadConfig({ ...database, WEB_CONCURRENCY: "3" }));
    expect(warning).toContain("WEB_CONCURRENCY=3 without REDIS_URL");
    expect(warning).toContain("up to 3 times RATE_LIMIT_PER_MINUTE");
  });

  it("keeps images on local disk by default, in an S3 bucket with IMAGE_STORE=s3", () => {
    expect(loadConfig({}).images).toEqual({ store: { kind: "local" }, presignedRedirect: false });
    const s3 = loadConfig({
      IMAGE_STORE: "s3",
      S3_ENDPOINT: "http://127.0.0.1:9000/",
      S3_BUCKET: "images",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
      IMAGE_RETENTION_DAYS: "30",
    });
    expect(s3.images).toMatchObject({
      store: { kind: "s3", endpoint: "http://127.0.0.1:9000", region: "us-east-1", bucket: "images" },
      retentionDays: 30,
      // Images are answered by a redirect to a presigned URL unless the operator turns it off.
      presignedRedirect: true,
    });
    expect(
      loadConfig({ IMAGE_STORE: "s3", S3_BUCKET: "b", S3_PRESIGNED_REDIRECT: "false" }).images
        .presignedRedirect,
    ).toBe(false);
    expect(() => loadConfig({ IMAGE_STORE: "s3", S3_BUCKET: "b", S3_PRESIGNED_REDIRECT: "maybe" })).toThrow(
      /S3_PRESIGNED_REDIRECT/,
    );
    // Path-style by default with a custom endpoint (MinIO, Supabase Storage), virtual-hosted on AWS.
    expect(s3.images.store).toMatchObject({ forcePathStyle: true });
    expect(loadConfig({ IMAGE_STORE: "s3", S3_BUCKET: "b" }).images.store).toMatchObject({
      forcePathStyle: false,
    });
    expect(
      loadConfig({
        IMAGE_STORE: "s3",
        S3_BUCKET: "b",
        S3_ENDPOINT: "https://x.example",
        S3_FORCE_PATH_STYLE: "false",
      }).images.store,
    ).toMatchObject({ forcePathStyle: false });
  });

  it("a fleet (DATABASE_URL or IMAGE_STORE=s3) must give IMAGE_URL_SECRET: a DATA_DIR secret is one host's", () => {
    const base = { DEV_SIGN_IN: "true" };
    for (const env of [
      { DATABASE_URL: "postgres://db/app" },
      { IMAGE_STORE: "s3", S3_BUCKET: "b" },
    ] as Record<string, string>[]) {
      const refusal = imageSecretConfigError(loadConfig({ ...base, ...env }));
      expect(refusal?.message, JSON.stringify(env)).toMatch(/IMAGE_URL_SECRET is required/);
      expect(
        imageSecretConfigError(loadConfig({ ...base, ...env, IMAGE_URL_SECRET: "s".repeat(32) })),
      ).toBeUndefined();
    }
    expect(imageSecretConfigError(loadConfig({}))).toBeUndefined(); // one host, embedded
  });

  it("refuses an incomplete S3 setup and a short image link secret, naming the variables", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems.map((p) => p.variable);
      }
      return [];
    };
    expect(problems({ IMAGE_STORE: "s3" })).toEqual(["S3_BUCKET"]);
    expect(problems({ IMAGE_STORE: "s3", S3_BUCKET: "b", S3_ACCESS_KEY_ID: "id" })).toEqual([
      "S3_SECRET_ACCESS_KEY",
    ]);
    expect(problems({ IMAGE_STORE: "gcs" })).toEqual(["IMAGE_STORE"]);
    expect(problems({ IMAGE_URL_SECRET: "short" })).toEqual(["IMAGE_URL_SECRET"]);
    expect(problems({ IMAGE_URL_SECRET_PREVIOUS: "short" })).toEqual(["IMAGE_URL_SECRET_PREVIOUS"]);
    const rotated = loadConfig({
      IMAGE_URL_SECRET: "n".repeat(32),
      IMAGE_URL_SECRET_PREVIOUS: "o".repeat(32),
    });
    expect(rotated.images).toMatchObject({ urlSecret: "n".repeat(32), previousUrlSecret: "o".repeat(32) });
    expect(problems({ IMAGE_RETENTION_DAYS: "0" })).toEqual(["IMAGE_RETENTION_DAYS"]);
  });
});
