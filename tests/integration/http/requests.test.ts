/**
 * DESIGN.md §3 "Requests", driven through the real route handlers: bodies are counted while they
 * stream and refused at the route's limit (a chunked body included); the callback checks its job
 * and token before reading a byte; POST bodies declare their type; cookie requests with unsafe
 * methods must come from the app's own origin; image URLs are capped; every API answer is nosniff.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { createTestDatabase, type TestDatabase } from "../../helpers/database";
import { creditsOf } from "../../helpers/probes";

const MiB = 1024 * 1024;

/** A body of `totalBytes` in 64 KiB chunks, produced only as the reader pulls; counts what was pulled. */
function meteredBody(totalBytes: number, head = "") {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const meter = { pulled: 0 };
  let sentHead = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sentHead && head) {
        sentHead = true;
        const bytes = new TextEncoder().encode(head);
        meter.pulled += bytes.byteLength;
        controller.enqueue(bytes);
        return;
      }
      if (meter.pulled >= totalBytes) return controller.close();
      meter.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, meter };
}

let testDb: TestDatabase;
let h: Harness;
let token: string;

beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  h = await startHarness({ database: testDb.database, env: { RATE_LIMIT_IP_PER_MINUTE: "1000" } });
  ({ token } = await h.signIn("requests@example.com"));
});

afterAll(async () => {
  await h?.close();
  await testDb?.dispose();
});

const jobsCreated = () => h.sim.stats().calls.createTask;

describe("bodies are counted as they stream", () => {
  it("a 300 MB chunked body to the callback: refused for its unknown job before the body is read", async () => {
    const { stream, meter } = meteredBody(300 * MiB);
    const response = await h.fetch(`/api/kie/callback?job=0f8fad5b-d9cb-469f-a165-70867728950e&token=guess`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(404);
    expect(meter.pulled).toBeLessThan(1 * MiB);
  });

  it("a 300 MB chunked JSON body to POST /api/generate: 413 once past the route's limit", async () => {
    const { stream, meter } = meteredBody(300 * MiB, '{"prompt":"');
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe("file_too_large");
    expect(meter.pulled).toBeLessThan(20 * MiB);
    expect(jobsCreated()).toBe(0);
  });

  it("a 300 MB chunked multipart file: 413 at the per-file limit, never parsed whole", async () => {
    const boundary = "xxBOUNDARYxx";
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nbig\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n` +
      "Content-Type: image/png\r\n\r\n";
    const { stream, meter } = meteredBody(300 * MiB, head);
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(meter.pulled).toBeLessThan(12 * MiB); // MAX_UPLOAD_BYTES is 10 MiB
    expect(jobsCreated()).toBe(0);
  });

  it("a declared Content-Length over the limit is refused without reading", async () => {
    const { stream, meter } = meteredBody(1 * MiB);
    const response = await h.fetch("/api/auth/dev", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(100 * MiB) },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(meter.pulled).toBeLessThan(256 * 1024);
  });
});

describe("POST bodies declare their type (415)", () => {
  it("dev sign-in refuses text/plain and no type (login CSRF needs a CORS-simple body)", async () => {
    for (const headers of [{ "content-type": "text/plain" }, {}] as Record<string, string>[]) {
      const response = await h.fetch("/api/auth/dev", {
        method: "POST",
        headers,
        body: JSON.stringify({ email: "victim@example.com" }),
      });
      expect(response.status).toBe(415);
      expect((await response.json()).error.code).toBe("unsupported_media_type");
      expect(response.headers.get("set-cookie")).toBeNull();
    }
  });

  it("generate refuses a body with no type", async () => {
    const response = await h.fetch("/api/generate", { method: "POST", token, body: '{"prompt":"p"}' });
    expect(response.status).toBe(415);
  });
});

describe("image URLs are capped at 2048 characters", () => {
  it("a longer https URL is 400 and nothing is stored or sent to KIE", async () => {
    const long = `https://images.example.com/${"a".repeat(2048)}.png`;
    const before = await creditsOf(h, token);
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "p", images: [long] }),
    });
    expect(response.status).toBe(400);
    expect(await creditsOf(h, token)).toBe(before);
    const list = await (await h.fetch("/api/generations", { token })).json();
    expect(JSON.stringify(list)).not.toContain("a".repeat(2048));
    expect(jobsCreated()).toBe(0);
  });
});

describe("cookie requests with unsafe methods must come from the app's own origin (CSRF)", () => {
  let cookieUser: { token: string; cookie: string };

  beforeAll(async () => {
    const signIn = await h.fetch("/api/auth/dev", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "cookie-user@example.com" }),
    });
    const setCookie = signIn.headers.get("set-cookie") ?? "";
    const body = await signIn.json();
    cookieUser = { token: body.accessToken, cookie: setCookie.split(";")[0]! };
  });

  function multipartForm() {
    const form = new FormData();
    form.append("prompt", "spend the victim's credits");
    return form;
  }

  const forged: [string, Record<string, string>, () => BodyInit][] = [
    ["multipart from another origin", { origin: "https://evil.example" }, multipartForm],
    [
      "text/plain from a sibling subdomain",
      { origin: "https://x.localhost", "content-type": "text/plain" },
      () => '{"prompt":"p"}',
    ],
    ["no type, no Origin, no Sec-Fetch-Site", {}, () => '{"prompt":"p"}'],
    [
      "JSON with Sec-Fetch-Site: cross-site",
      { "sec-fetch-site": "cross-site", "content-type": "application/json" },
      () => '{"prompt":"p"}',
    ],
    [
      "JSON with Sec-Fetch-Site: same-site",
      { "sec-fetch-site": "same-site", "content-type": "application/json" },
      () => '{"prompt":"p"}',
    ],
  ];

  for (const [name, headers, body] of forged) {
    it(`${name} → 403, no job, no charge`, async () => {
      const before = await creditsOf(h, cookieUser.token);
      const jobsBefore = jobsCreated();
      const response = await h.fetch("/api/generate", {
        method: "POST",
        headers: { ...headers, cookie: cookieUser.cookie, prefer: "respond-async" },
        body: body(),
      });
      expect(response.status).toBe(403);
      expect((await response.json()).error.code).toBe("forbidden");
      expect(await creditsOf(h, cookieUser.token)).toBe(before);
      expect(jobsCreated()).toBe(jobsBefore);
    });
  }

  it("the same from the app's own origin works (Origin, or Sec-Fetch-Site: same-origin)", async () => {
    const own: Record<string, string>[] = [
      { origin: "http://localhost" },
      { "sec-fetch-site": "same-origin" },
    ];
    for (const headers of own) {
      const response = await h.fetch("/api/generate", {
        method: "POST",
        headers: { ...headers, cookie: cookieUser.cookie, prefer: "respond-async" },
        body: multipartForm(),
      });
      expect(response.status, await response.clone().text()).toBe(202);
    }
  });

  // (A foreign Origin itself is refused while dev sign-in is on: rebinding.test.ts.)
  it("bearer clients are unaffected, whatever site they say they come from", async () => {
    const response = await h.fetch("/api/generate", {
      method: "POST",
      token,
      headers: {
        "sec-fetch-site": "cross-site",
        "content-type": "application/json",
        prefer: "respond-async",
      },
      body: JSON.stringify({ prompt: "from a script" }),
    });
    expect(response.status).toBe(202);
  });

  it("a header that merely starts with 'Bearer' does not let a cookie request skip the check", async () => {
    const created = await h.fetch("/api/generate", {
      method: "POST",
      token: cookieUser.token,
      headers: { "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "keep me" }),
    });
    const { taskId, status } = await created.json();
    expect(status).toBe("succeeded"); // a finished job: its owner could delete it
    for (const authorization of ["Bearer,x", "Bearer", "Bearer\t", "bearer;"]) {
      const response = await h.fetch(`/api/generations/${taskId}`, {
        method: "DELETE",
        headers: { authorization, cookie: cookieUser.cookie, origin: "https://evil.example" },
      });
      expect(response.status, authorization).toBe(403);
    }
    const still = await h.fetch(`/api/generate/${taskId}`, { token: cookieUser.token });
    expect(still.status).toBe(200);
  });

  it("sign-out and dev sign-in from another origin are refused too", async () => {
    const signout = await h.fetch("/api/auth/signout", {
      method: "POST",
      headers: { origin: "https://evil.example", cookie: cookieUser.cookie },
    });
    expect(signout.status).toBe(403);
    const signIn = await h.fetch("/api/auth/dev", {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ email: "attacker@example.com" }),
    });
    expect(signIn.status).toBe(403);
  });

  it("safe methods with a cookie need no Origin", async () => {
    const response = await h.fetch("/api/credits", { headers: { cookie: cookieUser.cookie } });
    expect(response.status).toBe(200);
  });
});

describe("every API answer is nosniff", () => {
  it("on success and on error", async () => {
    for (const response of [await h.fetch("/api/health"), await h.fetch("/api/credits")]) {
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });
});
