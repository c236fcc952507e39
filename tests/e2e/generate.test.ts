/**
 * The generate flow through the real production server (`npm start`: Next.js, instrumentation,
 * the embedded simulator and PGlite), with APP_URL set so KIE's callbacks come back through
 * Next.js too. The in-process integration suites cover the cases; this proves the wiring.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type RunningApp, startApp } from "../helpers/server";

describe("generate through the production server", () => {
  let app: RunningApp;
  let token = "";
  let imageUrl = "";

  beforeAll(async () => {
    const port = await freePort();
    app = await startApp(
      {
        KIE_API_KEY: "",
        DATABASE_URL: "",
        SUPABASE_URL: "",
        SUPABASE_JWT_SECRET: "",
        APP_URL: `http://127.0.0.1:${port}`,
        KIE_USE_ASYNC: "true",
      },
      { port },
    );
    const signIn = await fetch(`${app.url}/api/auth/dev`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "e2e-generate@example.com" }),
    });
    token = (await signIn.json()).accessToken;
  });

  afterAll(async () => {
    await app?.stop();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  it("sync: a text-to-image request answers with an image of the requested shape", async () => {
    const response = await fetch(`${app.url}/api/generate`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json", prefer: "wait" },
      body: JSON.stringify({ prompt: "a banana astronaut over the Earth", aspectRatio: "16:9" }),
    });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ success: true, status: "succeeded", creditsUsed: 1, remainingCredits: 9 });

    // Our stored copy, by its signed link, as the browser shows it (DESIGN.md §9).
    // (absolute on APP_URL, which this server has for callbacks).
    expect(body.imageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/images\/[0-9a-f-]{36}\?/);
    imageUrl = body.imageUrl;
    const proxied = await fetch(new URL(body.imageUrl, app.url));
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get("x-content-type-options")).toBe("nosniff");
    const meta = await sharp(Buffer.from(await proxied.arrayBuffer())).metadata();
    expect(meta.width! / meta.height!).toBeCloseTo(16 / 9, 1);
  });

  it("the stored image through next start: HEAD, one byte range (206, 416) and 304 (issue 28)", async () => {
    expect(imageUrl).not.toBe("");
    const whole = await fetch(imageUrl);
    const bytes = Buffer.from(await whole.arrayBuffer());
    const etag = whole.headers.get("etag") as string;
    expect(whole.headers.get("accept-ranges")).toBe("bytes");

    // (Next sends every route handler's answer without Content-Length: chunked, or none for HEAD.)
    const head = await fetch(imageUrl, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe(whole.headers.get("content-type"));
    expect(head.headers.get("etag")).toBe(etag);
    expect(head.headers.get("accept-ranges")).toBe("bytes");
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const part = await fetch(imageUrl, { headers: { range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 100-199/${bytes.byteLength}`);
    expect(part.headers.get("content-encoding")).toBeNull();
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);

    const past = await fetch(imageUrl, { headers: { range: `bytes=${bytes.byteLength}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${bytes.byteLength}`);
    expect((await past.json()).error.code).toBe("range_not_satisfiable");

    expect((await fetch(imageUrl, { headers: { "if-none-match": etag } })).status).toBe(304);
  });

  it("async + callback: a multipart edit is accepted, settled by KIE's callback, and listed", async () => {
    const input = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#3a7" } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.set("prompt", "make it look like a watercolor");
    form.append("images", new Blob([new Uint8Array(input)], { type: "image/png" }), "input.png");
    const response = await fetch(`${app.url}/api/generate`, { method: "POST", headers: auth(), body: form });
    const accepted = await response.json();
    expect(response.status, JSON.stringify(accepted)).toBe(202);

    let status: { status: string; imageUrl?: string } = { status: "pending" };
    for (let i = 0; i < 100 && (status.status === "pending" || status.status === "processing"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await (await fetch(`${app.url}${accepted.statusUrl}`, { headers: auth() })).json();
    }
    expect(status.status).toBe("succeeded");

    const list = await (await fetch(`${app.url}/api/generations`, { headers: auth() })).json();
    expect(list.generations[0]).toMatchObject({
      taskId: accepted.taskId,
      type: "image_edit",
      status: "succeeded",
    });
    const credits = await (await fetch(`${app.url}/api/credits`, { headers: auth() })).json();
    expect(credits.balance).toBe(8);
  });

  it("refuses an 11 MiB upload with 413 and charges nothing", async () => {
    const form = new FormData();
    form.set("prompt", "too big");
    form.append("images", new Blob([new Uint8Array(11 * 1024 * 1024)], { type: "image/png" }), "big.png");
    const response = await fetch(`${app.url}/api/generate`, { method: "POST", headers: auth(), body: form });
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe("file_too_large");
    const credits = await (await fetch(`${app.url}/api/credits`, { headers: auth() })).json();
    expect(credits.balance).toBe(8);
  });
});
