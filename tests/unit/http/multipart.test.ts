/**
 * readMultipart on its own: file parts spooled to disk as they arrive (not held in memory), handed
 * on as Blobs of the same bytes with their hashes, and nothing left on disk once disposed of or
 * refused.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "@/lib/http/errors";
import { type MultipartLimits, readMultipart } from "@/lib/http/multipart";

let spoolDir: string;
beforeEach(() => {
  spoolDir = mkdtempSync(path.join(tmpdir(), "multipart-test-"));
});
afterEach(() => rmSync(spoolDir, { recursive: true, force: true }));

const limits = (): MultipartLimits => ({
  spoolDir,
  maxBodyBytes: 10_000_000,
  maxFileBytes: 1_000_000,
  maxFiles: 5,
  maxFields: 10,
  maxFieldBytes: 10_000,
});

function post(form: FormData): Request {
  return new Request("http://localhost/api/generate", { method: "POST", body: form });
}

const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("readMultipart", () => {
  it("hands on every file, in order, with its bytes and hash; disposing removes them from disk", async () => {
    const form = new FormData();
    form.set("prompt", "two files");
    const first = bytes(300_000, 1);
    const second = bytes(20, 2);
    form.append("images", new Blob([first], { type: "image/png" }), "a.png");
    form.append("images", new Blob([second], { type: "image/jpeg" }), "b.jpg");
    const parsed = await readMultipart(post(form), limits());
    expect(parsed.fields).toEqual([["prompt", "two files"]]);
    expect(parsed.files.map((file) => [file.filename, file.mimeType, file.data.size, file.sha256])).toEqual([
      ["a.png", "image/png", first.byteLength, sha256(first)],
      ["b.jpg", "image/jpeg", second.byteLength, sha256(second)],
    ]);
    expect(new Uint8Array(await parsed.files[1]!.data.arrayBuffer())).toEqual(second);
    expect(readdirSync(spoolDir)).toHaveLength(1); // the request's own folder
    await parsed.dispose();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it("leaves nothing on disk when a file is over the limit (413)", async () => {
    const form = new FormData();
    form.append("images", new Blob([bytes(100, 1)]), "small.png");
    form.append("images", new Blob([bytes(1_000_001, 1)]), "big.png");
    const error = await readMultipart(post(form), limits()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("file_too_large");
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it("makes no folder for a form without files", async () => {
    const form = new FormData();
    form.set("prompt", "text only");
    const parsed = await readMultipart(post(form), limits());
    expect(parsed.files).toEqual([]);
    await parsed.dispose();
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});
