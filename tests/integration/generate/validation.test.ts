/**
 * Everything POST /api/generate refuses before money moves or KIE hears of it: malformed and
 * invalid requests (400), oversized files (413), files that are not PNG/JPEG/WebP by their bytes
 * (415), in JSON (data: URIs) and multipart form; and a user without credits (402). Each refusal
 * leaves the balance as it was, writes no ledger row, and sends nothing to KIE — not even an upload.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/appHarness";
import { describeEachDatabase } from "../../helpers/database";
import {
  type Answer,
  creditsOf,
  dataUri,
  generateJson,
  generateMultipart,
  jobLedgerOf,
  kieWork,
  pngImage,
} from "./generateKit";

const MiB = 1024 * 1024;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
const TEXT = "just some text, not an image\n".repeat(4);
/** The start of an iPhone photo: an ISO-BMFF `ftyp` box of brand `heic` (HEVC, which sharp here cannot decode). */
const HEIC = Buffer.concat([
  Buffer.from([0, 0, 0, 0x18]),
  Buffer.from("ftypheic"),
  Buffer.from([0, 0, 0, 0]),
  Buffer.from("mif1heic"),
  Buffer.alloc(256),
]);

/** 11 MiB that start like a PNG: over the default 10 MiB MAX_UPLOAD_BYTES. */
function elevenMiB(): Uint8Array {
  const bytes = new Uint8Array(11 * MiB);
  bytes.set(PNG_SIGNATURE);
  return bytes;
}

function form(
  fields: Record<string, string>,
  files: { bytes: Uint8Array | string; name: string; type: string }[] = [],
) {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  for (const file of files) {
    const bytes = typeof file.bytes === "string" ? new TextEncoder().encode(file.bytes) : file.bytes;
    body.append("images", new Blob([bytes as Uint8Array<ArrayBuffer>], { type: file.type }), file.name);
  }
  return body;
}

type Send = (h: Harness, token: string) => Promise<Answer>;

const json =
  (body: unknown, headers: Record<string, string> = {}): Send =>
  (h, token) =>
    generateJson(h, body, { token, prefer: "wait", headers });

const multipart =
  (fields: Record<string, string>, files: Parameters<typeof form>[1] = []): Send =>
  (h, token) =>
    generateMultipart(h, form(fields, files), { token, prefer: "wait" });

const https = (n: number) => `https://images.example.invalid/${n}.png`;

/** [what, status, error code, the request, what the message must name] */
const REFUSALS: [string, number, string, Send, RegExp?][] = [
  // 400: the JSON body
  ["JSON: blank prompt", 400, "invalid_request", json({ prompt: "   \n\t " })],
  ["JSON: missing prompt", 400, "invalid_request", json({ aspectRatio: "1:1" })],
  ["JSON: 5001-character prompt", 400, "invalid_request", json({ prompt: "x".repeat(5001) }), /prompt/],
  ["JSON: 6 images", 400, "invalid_request", json({ prompt: "six", images: [1, 2, 3, 4, 5, 6].map(https) })],
  [
    "JSON: unknown model",
    400,
    "invalid_request",
    json({ prompt: "p", model: "google/nano-banana-ultra" }),
    /model/,
  ],
  [
    "JSON: an edit-only model without images",
    400,
    "invalid_request",
    json({ prompt: "p", model: "google/nano-banana-edit" }),
  ],
  ["JSON: bad aspectRatio", 400, "invalid_request", json({ prompt: "p", aspectRatio: "7:3" }), /aspectRatio/],
  [
    "JSON: non-integer randomSeed",
    400,
    "invalid_request",
    json({ prompt: "p", randomSeed: 1.5 }),
    /randomSeed/,
  ],
  ["JSON: randomSeed as a string", 400, "invalid_request", json({ prompt: "p", randomSeed: "42" })],
  ["JSON: bad outputFormat", 400, "invalid_request", json({ prompt: "p", outputFormat: "gif" })],
  ["JSON: unknown field", 400, "invalid_request", json({ prompt: "p", aspect_ratio: "1:1" }), /aspect_ratio/],
  ["JSON: malformed JSON", 400, "invalid_request", json('{"prompt": "p"')],
  ["JSON: not an object", 400, "invalid_request", json('["prompt"]')],
  [
    "JSON: http:// image URL",
    400,
    "invalid_request",
    json({ prompt: "p", images: ["http://images.example.invalid/a.png"] }),
  ],
  [
    "JSON: a data: URI without base64",
    400,
    "invalid_request",
    json({ prompt: "p", images: ["data:image/png,abc"] }),
  ],
  [
    "unsupported content type (DESIGN §3: 415)",
    415,
    "unsupported_media_type",
    (h, token) =>
      h
        .fetch("/api/generate", {
          method: "POST",
          token,
          headers: { "content-type": "text/plain" },
          body: "prompt=p",
        })
        .then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
  ],
  // 400: the Idempotency-Key header
  ["Idempotency-Key: empty", 400, "invalid_request", json({ prompt: "p" }, { "idempotency-key": "" })],
  [
    "Idempotency-Key: 256 characters",
    400,
    "invalid_request",
    json({ prompt: "p" }, { "idempotency-key": "k".repeat(256) }),
    /Idempotency-Key/,
  ],
  [
    "Idempotency-Key: a control character",
    400,
    "invalid_request",
    json({ prompt: "p" }, { "idempotency-key": "key\twith-tab" }),
  ],
  // 400: multipart
  ["multipart: blank prompt", 400, "invalid_request", multipart({ prompt: "  " })],
  ["multipart: unknown field", 400, "invalid_request", multipart({ prompt: "p", seed: "1" }), /seed/],
  [
    "multipart: non-integer randomSeed",
    400,
    "invalid_request",
    multipart({ prompt: "p", randomSeed: "1.5" }),
  ],
  [
    "multipart: http:// image URL",
    400,
    "invalid_request",
    multipart({ prompt: "p", images: "http://images.example.invalid/a.png" }),
  ],
  [
    "multipart: a body that is not multipart",
    400,
    "invalid_request",
    (h, token) =>
      h
        .fetch("/api/generate", {
          method: "POST",
          token,
          headers: { "content-type": "multipart/form-data; boundary=nothing-here" },
          body: "this is not a multipart body",
        })
        .then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() })),
  ],
  // 413
  [
    "multipart: an 11 MiB file",
    413,
    "file_too_large",
    multipart({ prompt: "p" }, [{ bytes: elevenMiB(), name: "big.png", type: "image/png" }]),
  ],
  [
    "JSON: an 11 MiB data: URI",
    413,
    "file_too_large",
    json({ prompt: "p", images: [dataUri("image/png", elevenMiB())] }),
  ],
  // 415
  [
    "multipart: a text file",
    415,
    "unsupported_media_type",
    multipart({ prompt: "p" }, [{ bytes: TEXT, name: "notes.txt", type: "text/plain" }]),
  ],
  [
    "multipart: an iPhone HEIC photo",
    415,
    "unsupported_media_type",
    multipart({ prompt: "p" }, [{ bytes: HEIC, name: "IMG_0001.HEIC", type: "image/heic" }]),
    /HEIC.*JPEG, PNG or WebP/,
  ],
  [
    "multipart: an SVG",
    415,
    "unsupported_media_type",
    multipart({ prompt: "p" }, [{ bytes: SVG, name: "logo.svg", type: "image/svg+xml" }]),
  ],
  [
    "multipart: a text file renamed .png, declared image/png",
    415,
    "unsupported_media_type",
    multipart({ prompt: "p" }, [{ bytes: TEXT, name: "photo.png", type: "image/png" }]),
  ],
  [
    "JSON: a text data: URI",
    415,
    "unsupported_media_type",
    json({ prompt: "p", images: [dataUri("text/plain", TEXT)] }),
  ],
  [
    "JSON: an SVG data: URI",
    415,
    "unsupported_media_type",
    json({ prompt: "p", images: [dataUri("image/svg+xml", SVG)] }),
  ],
  [
    "JSON: text in a data: URI declared image/png",
    415,
    "unsupported_media_type",
    json({ prompt: "p", images: [dataUri("image/png", TEXT)] }),
  ],
];

describeEachDatabase("POST /api/generate: refused before anything is charged or sent to KIE", (getDb) => {
  let h: Harness;
  let png: Buffer;
  beforeAll(async () => {
    h = await startHarness({
      database: getDb(),
      // One credit each: a charge would show. Many requests from one test address.
      env: { CREDITS_INITIAL: "1", RATE_LIMIT_IP_PER_MINUTE: "100000" },
    });
    png = await pngImage();
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const [what, status, code, send, mentions] of REFUSALS) {
    it(`${what} → ${status} ${code}, no KIE call, no charge`, async () => {
      const { token, userId } = await h.signIn();
      const before = kieWork(h);
      const res = await send(h, token);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body).toMatchObject({ success: false, error: { code } });
      expect(res.body.error.requestId).toBe(res.headers.get("x-request-id"));
      if (mentions) expect(res.body.error.message).toMatch(mentions);
      expect(kieWork(h)).toEqual(before);
      expect(await creditsOf(h, token)).toBe(1);
      expect(await jobLedgerOf(getDb(), userId)).toEqual([]);
    });
  }

  it("multipart: a field given twice → 400", async () => {
    const { token } = await h.signIn();
    const body = form({ prompt: "p" });
    body.append("prompt", "again");
    const before = kieWork(h);
    const res = await generateMultipart(h, body, { token, prefer: "wait" });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(kieWork(h)).toEqual(before);
  });

  it("multipart: 6 image files → 400, none uploaded", async () => {
    const { token } = await h.signIn();
    const files = Array.from({ length: 6 }, (_, i) => ({ bytes: png, name: `${i}.png`, type: "image/png" }));
    const before = kieWork(h);
    const res = await generateMultipart(h, form({ prompt: "six" }, files), { token, prefer: "wait" });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(1);
  });

  it("JSON: 3 URLs and 3 data: URIs (6 images) → 400, none uploaded", async () => {
    const { token } = await h.signIn();
    const images = [https(1), https(2), https(3), ...[1, 2, 3].map(() => dataUri("image/png", png))];
    const before = kieWork(h);
    const res = await generateJson(h, { prompt: "six", images }, { token, prefer: "wait" });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(kieWork(h)).toEqual(before);
  });

  it("insufficient credits → 402 with zero KIE calls, for text, uploads and data: URIs alike", async () => {
    const { token, userId } = await h.signIn();
    // Spend the only credit.
    const spent = await generateJson(h, { prompt: "the one credit" }, { token, prefer: "respond-async" });
    expect(spent.status, JSON.stringify(spent.body)).toBe(202);
    expect(spent.body.remainingCredits).toBe(0);

    const before = kieWork(h);
    const attempts = [
      await generateJson(h, { prompt: "no credit left" }, { token, prefer: "wait" }),
      await generateJson(h, { prompt: "no credit left" }, { token, prefer: "respond-async" }),
      await generateMultipart(
        h,
        form({ prompt: "edit without credit" }, [{ bytes: png, name: "a.png", type: "image/png" }]),
        { token, prefer: "wait" },
      ),
      await generateJson(
        h,
        { prompt: "edit without credit", images: [dataUri("image/png", png)] },
        { token, prefer: "wait" },
      ),
    ];
    for (const res of attempts) {
      expect(res.status, JSON.stringify(res.body)).toBe(402);
      expect(res.body.error.code).toBe("insufficient_credits");
    }
    // Not one createTask, not one upload.
    expect(kieWork(h)).toEqual(before);
    expect(await creditsOf(h, token)).toBe(0);
    // Only the first job's reserve: a 402 writes nothing.
    expect((await jobLedgerOf(getDb(), userId)).filter((row) => row.kind === "reserve")).toHaveLength(1);
  });
});
