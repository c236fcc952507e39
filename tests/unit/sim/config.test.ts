import { describe, expect, it } from "vitest";
import { KieSimConfigError, loadKieSimConfig } from "@/sim/config";

describe("kie-sim environment", () => {
  it("has working defaults", () => {
    expect(loadKieSimConfig({})).toEqual({
      logLevel: "info",
      options: expect.objectContaining({ port: 8787, host: "127.0.0.1", stepMs: 400, recordDelayMs: 150 }),
    });
  });

  it("reads every variable", () => {
    const { options, logLevel } = loadKieSimConfig({
      KIE_SIM_PORT: "9000",
      KIE_SIM_HOST: "0.0.0.0",
      KIE_SIM_PUBLIC_URL: "https://sim.example.test/",
      KIE_SIM_API_KEYS: "a, b",
      KIE_SIM_STEP_MS: "50",
      KIE_SIM_RECORD_DELAY_MS: "0",
      KIE_SIM_FAULTS: "createTask:http=429;times=1",
      KIE_SIM_LATENCY_MS: "25",
      KIE_SIM_WEBHOOK_HMAC_KEY: "hmac",
      KIE_SIM_ACCOUNT_CREDITS: "12",
      KIE_SIM_IMAGE_SCALE: "0.5",
      KIE_SIM_MAX_TASKS: "10",
      KIE_SIM_MAX_STORED_MB: "2",
      KIE_SIM_MAX_UPLOAD_MB: "1",
      KIE_SIM_RATE_LIMIT: "20/10s",
      KIE_SIM_READ_RATE_LIMIT: "10/1s",
      KIE_SIM_RATE_LIMIT_RETRY_AFTER: "false",
      KIE_SIM_LOG_LEVEL: "warn",
      KIE_SIM_CONTROL_API: "false",
      KIE_SIM_CONTROL_KEY: "a-control-key-of-24-chars",
    });
    expect(logLevel).toBe("warn");
    expect(options).toEqual({
      port: 9000,
      host: "0.0.0.0",
      publicUrl: "https://sim.example.test",
      apiKeys: ["a", "b"],
      stepMs: 50,
      recordDelayMs: 0,
      faults: "createTask:http=429;times=1,*:latency=25",
      webhookHmacKey: "hmac",
      accountCredits: 12,
      imageScale: 0.5,
      maxTasks: 10,
      maxStoredBytes: 2 * 1024 * 1024,
      maxUploadBytes: 1024 * 1024,
      createTaskRateLimit: { limit: 20, windowMs: 10_000, retryAfter: false },
      recordInfoRateLimit: { limit: 10, windowMs: 1_000, retryAfter: false },
      controlApi: false,
      controlKey: "a-control-key-of-24-chars",
    });
  });

  it("names every bad variable, and the fault parser's complaint, without echoing secrets", () => {
    let error: unknown;
    try {
      loadKieSimConfig({
        KIE_SIM_PORT: "http",
        KIE_SIM_STEP_MS: "-5",
        KIE_SIM_FAULTS: "createTask:htp=429",
        KIE_SIM_IMAGE_SCALE: "2",
        KIE_SIM_RATE_LIMIT: "lots",
        KIE_SIM_READ_RATE_LIMIT: "10 per second",
        KIE_SIM_PUBLIC_URL: "ftp://secret-host",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KieSimConfigError);
    const problems = (error as KieSimConfigError).problems.map((p) => p.variable);
    expect(problems.sort()).toEqual(
      [
        "KIE_SIM_FAULTS",
        "KIE_SIM_IMAGE_SCALE",
        "KIE_SIM_PORT",
        "KIE_SIM_PUBLIC_URL",
        "KIE_SIM_RATE_LIMIT",
        "KIE_SIM_READ_RATE_LIMIT",
        "KIE_SIM_STEP_MS",
      ].sort(),
    );
    expect((error as Error).message).toContain("unknown fault 'htp'");
    expect((error as Error).message).not.toContain("secret-host");
  });

  it("treats empty variables as unset", () => {
    expect(loadKieSimConfig({ KIE_SIM_PORT: "", KIE_SIM_API_KEYS: " " }).options).toMatchObject({
      port: 8787,
      apiKeys: undefined,
    });
  });
});
