import { openAsBlob } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MalformedResponseError, ServiceError, ValidationError } from "@/lib/kie/errors";
import {
  API_KEY,
  captureError,
  JSON_HEADERS,
  type Kit,
  makeKit,
  startServer,
  type TestServer,
} from "./kieTestKit";

const CALL = { requestId: "req-upload" };
const BASE64 = { path: "/api/file-base64-upload", method: "POST" } as const;
const DOWNLOAD = "https://tempfile.redpandaai.co/kieai/u/a.png";
const UUID_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(png|jpg|webp|bin)$/;

const uploaded = (data: Record<string, unknown>) => ({
  success: true,
  code: 200,
  msg: "File uploaded successfully",
  data,
});

let kit: Kit | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await kit?.close();
  await server?.close();
  kit = undefined;
  server = undefined;
});

/** A fake upload host that parses the multipart body and answers like KIE. */
async function uploadServer() {
  const received: { fields: Record<string, string>; file?: { name: string; type: string; bytes: Buffer } }[] =
    [];
  server = await startServer((req, res, body) => {
    void (async () => {
      const form = await new Response(new Uint8Array(body), {
        headers: { "content-type": String(req.headers["content-type"]) },
      }).formData();
      const fields: Record<string, string> = {};
      let file: (typeof received)[number]["file"];
      for (const [key, value] of form.entries()) {
        if (typeof value === "string") fields[key] = value;
        else file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
      }
      received.push({ fields, file });
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(
          uploaded({ downloadUrl: DOWNLOAD, fileName: fields.fileName, fileSize: file?.bytes.length }),
        ),
      );
    })();
  });
  kit = makeKit({ server: server.url, base64UploadMaxBytes: 1024 });
  return { received, client: kit.client, server };
}

describe("uploadFile: small bytes → base64 endpoint", () => {
  it("sends a data: URI, the default upload path and a unique file name", async () => {
    kit = makeKit();
    kit.upload
      .intercept(BASE64)
      .reply(
        200,
        uploaded({ downloadUrl: DOWNLOAD, fileName: "x.png", fileSize: 3, mimeType: "image/png" }),
        JSON_HEADERS,
      );
    const file = await kit.client.uploadFile(
      { data: new Uint8Array([1, 2, 3]), mimeType: "image/png" },
      CALL,
    );
    expect(file).toEqual({ downloadUrl: DOWNLOAD, fileName: "x.png", fileSize: 3, mimeType: "image/png" });
    const sent = JSON.parse(kit.calls()[0]?.body ?? "");
    expect(sent.base64Data).toBe("data:image/png;base64,AQID");
    expect(sent.uploadPath).toBe("images/user-uploads");
    expect(sent.fileName).toMatch(UUID_NAME);
  });

  it("passes a given uploadPath and fileName through", async () => {
    kit = makeKit();
    kit.upload.intercept(BASE64).reply(200, uploaded({ downloadUrl: DOWNLOAD }), JSON_HEADERS);
    await kit.client.uploadFile(
      { data: new Uint8Array([255, 216]), mimeType: "image/jpeg", fileName: "mine.jpg" },
      { ...CALL, uploadPath: "jobs/j1" },
    );
    expect(JSON.parse(kit.calls()[0]?.body ?? "")).toMatchObject({
      uploadPath: "jobs/j1",
      fileName: "mine.jpg",
    });
  });

  it("never reuses a generated name across uploads", async () => {
    kit = makeKit();
    kit.upload
      .intercept(BASE64)
      .reply(200, uploaded({ downloadUrl: DOWNLOAD }), JSON_HEADERS)
      .times(2);
    await kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/webp" }, CALL);
    await kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/webp" }, CALL);
    const [a, b] = kit.calls().map((c) => JSON.parse(c.body ?? "").fileName);
    expect(a).toMatch(UUID_NAME);
    expect(a).not.toBe(b);
  });

  it("retries a 500 with the same file name, so the retry overwrites rather than duplicates", async () => {
    kit = makeKit();
    kit.upload.intercept(BASE64).reply(500, { success: false, code: 500, msg: "disk full" }, JSON_HEADERS);
    kit.upload.intercept(BASE64).reply(200, uploaded({ downloadUrl: DOWNLOAD }), JSON_HEADERS);
    await kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/png" }, CALL);
    const names = kit.calls().map((c) => JSON.parse(c.body ?? "").fileName);
    expect(names).toHaveLength(2);
    expect(names[0]).toBe(names[1]);
  });
});

describe("upload answers", () => {
  it.each([
    [
      "fileUrl",
      { fileId: "f1", originalName: "o.png", fileUrl: DOWNLOAD },
      { downloadUrl: DOWNLOAD, fileName: "o.png" },
    ],
    ["url", { url: DOWNLOAD }, { downloadUrl: DOWNLOAD }],
  ])("tolerates data.%s instead of downloadUrl", async (_name, data, expected) => {
    kit = makeKit();
    kit.upload.intercept(BASE64).reply(200, uploaded(data), JSON_HEADERS);
    expect(await kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/png" }, CALL)).toEqual(
      expected,
    );
  });

  it("an answer without any URL is malformed", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.upload.intercept(BASE64).reply(200, uploaded({ fileName: "a.png" }), JSON_HEADERS);
    expect(
      await captureError(kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/png" }, CALL)),
    ).toBeInstanceOf(MalformedResponseError);
  });

  it("success: false beside code 200 is an error, not an upload", async () => {
    kit = makeKit({ maxRetries: 0 });
    kit.upload
      .intercept(BASE64)
      .reply(200, { success: false, code: 200, msg: "quota", data: { downloadUrl: DOWNLOAD } }, JSON_HEADERS);
    const error = await captureError(
      kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/png" }, CALL),
    );
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).kieMessage).toBe("quota");
  });

  it("a 400 from the upload host is a ValidationError, not retried", async () => {
    kit = makeKit({ maxRetries: 3 });
    kit.upload
      .intercept(BASE64)
      .reply(200, { success: false, code: 400, msg: "uploadPath is required" }, JSON_HEADERS);
    const error = await captureError(
      kit.client.uploadFile({ data: new Uint8Array([1]), mimeType: "image/png" }, CALL),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(kit.calls()).toHaveLength(1);
  });
});

describe("uploadFile: Blobs and large bytes → multipart stream endpoint", () => {
  it("streams a Blob as the `file` part with uploadPath and fileName fields", async () => {
    const { received, client: c, server: s } = await uploadServer();
    const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
    bytes[0] = 0x89;
    const file = await c.uploadFile({ data: new Blob([bytes]), mimeType: "image/png" }, CALL);
    expect(file.downloadUrl).toBe(DOWNLOAD);
    expect(s.hits[0]?.url).toBe("/api/file-stream-upload");
    expect(s.hits[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const [got] = received;
    expect(got?.fields.uploadPath).toBe("images/user-uploads");
    expect(got?.fields.fileName).toMatch(UUID_NAME);
    expect(got?.file?.name).toBe(got?.fields.fileName);
    expect(got?.file?.type).toBe("image/png");
    expect(got?.file?.bytes.equals(bytes)).toBe(true);
  });

  it("streams a file-backed Blob (openAsBlob) without reading it first", async () => {
    const { received, client: c } = await uploadServer();
    const dir = await mkdtemp(path.join(tmpdir(), "kie-upload-"));
    try {
      const filePath = path.join(dir, "photo.webp");
      const bytes = Buffer.from("RIFF....WEBPVP8 fake image bytes");
      await writeFile(filePath, bytes);
      const blob = await openAsBlob(filePath, { type: "image/webp" });
      await c.uploadFile(
        { data: blob, mimeType: "image/webp", fileName: "photo.webp" },
        { ...CALL, uploadPath: "u/1" },
      );
      expect(received[0]?.fields).toMatchObject({ uploadPath: "u/1", fileName: "photo.webp" });
      expect(received[0]?.file?.bytes.equals(bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("sends a Uint8Array above the base64 limit as multipart", async () => {
    const { received, client: c, server: s } = await uploadServer();
    const bytes = new Uint8Array(2048).fill(3);
    await c.uploadFile({ data: bytes, mimeType: "image/jpeg" }, CALL);
    expect(s.hits[0]?.url).toBe("/api/file-stream-upload");
    expect(received[0]?.file?.bytes.equals(Buffer.from(bytes))).toBe(true);
    expect(received[0]?.file?.name).toMatch(/\.jpg$/);
  });

  it("rebuilds the multipart body for a retry", async () => {
    let first = true;
    server = await startServer((_req, res, body) => {
      res.setHeader("content-type", "application/json");
      if (first) {
        first = false;
        res.statusCode = 503;
        res.end(JSON.stringify({ success: false, code: 503, msg: "busy" }));
        return;
      }
      res.end(JSON.stringify(uploaded({ downloadUrl: DOWNLOAD, fileSize: body.length })));
    });
    kit = makeKit({ server: server.url });
    const bytes = new Blob([Buffer.alloc(64 * 1024, 1)]);
    expect((await kit.client.uploadFile({ data: bytes, mimeType: "image/png" }, CALL)).downloadUrl).toBe(
      DOWNLOAD,
    );
    expect(server.hits).toHaveLength(2);
    expect(server.hits[1]?.body.length).toBe(server.hits[0]?.body.length);
    expect(server.hits[1]?.body.length).toBeGreaterThan(64 * 1024);
  });
});
