/**
 * Both ImageStore adapters against the real thing: the local one on a temp folder, the S3 one on
 * s3rver (a real S3-compatible HTTP server), never a mocked client.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertKey,
  HOST_TAG,
  type ImageStore,
  LocalImageStore,
  resultKey,
  StoreUnavailableError,
  thumbnailKey,
} from "@/lib/storage";
import { S3ImageStore } from "@/lib/storage/s3";
import { startTestS3, type TestS3 } from "@/tests/helpers/s3";
import { mountTmpfs, skipWithoutTmpfs, type Tmpfs } from "@/tests/helpers/tmpfs";

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A stream of `size` random bytes in 64 KiB chunks (never one big buffer). */
function randomStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash("sha256");
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return this.push(null);
      const chunk = randomBytes(Math.min(left, 64 * 1024));
      left -= chunk.byteLength;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest("hex") };
}

function contract(name: string, open: () => ImageStore) {
  describe(name, () => {
    let store: ImageStore;
    beforeAll(() => {
      store = open();
    });

    it("stores a stream and gives back the same bytes, size and type", async () => {
      const key = resultKey(randomUUID(), "image/png");
      const source = randomStream(12 * 1024 * 1024 + 17); // over one multipart part
      const put = await store.put(key, source.stream, { contentType: "image/png" });
      expect(put.bytes).toBe(12 * 1024 * 1024 + 17);
      const got = await store.get(key);
      expect(got?.size).toBe(12 * 1024 * 1024 + 17);
      expect(got?.contentType).toBe("image/png");
      expect(sha(await readAll(got!.body))).toBe(source.digest());
    });

    it("stores bytes, lists them under a prefix, deletes idempotently", async () => {
      const job = randomUUID();
      const key = thumbnailKey(job);
      const bytes = randomBytes(1000);
      await store.put(key, bytes, { contentType: "image/webp" });
      const listed: string[] = [];
      for await (const entry of store.list("results/")) listed.push(entry.key);
      expect(listed).toContain(key);
      await store.delete(key);
      await store.delete(key);
      expect(await store.get(key)).toBeUndefined();
    });

    it("answers undefined for a key that was never written", async () => {
      expect(await store.get(resultKey(randomUUID(), "image/jpeg"))).toBeUndefined();
    });

    it("a failed write leaves nothing behind", async () => {
      const key = resultKey(randomUUID(), "image/png");
      const failing = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          this.destroy(new Error("source broke"));
        },
      });
      await expect(store.put(key, failing, { contentType: "image/png" })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(await store.get(key)).toBeUndefined();
    });
  });
}

describe("keys", () => {
  it.each([
    "../etc/passwd",
    "results/../../x.png",
    "/abs.png",
    "results//x.png",
    ".hidden",
    "results/.tmp/x",
    "Results/X.png",
    "a\\b.png",
    "results/x.png\0",
    "results/%2e%2e/x.png",
    "",
  ])("refuses %j", (key) => {
    expect(() => assertKey(key)).toThrow();
  });

  it("accepts the keys the app makes", () => {
    const id = randomUUID();
    expect(resultKey(id, "image/jpeg")).toBe(`results/${id}.jpg`);
    expect(thumbnailKey(id)).toBe(`results/${id}.thumb.webp`);
  });
});

describe("local adapter", () => {
  const root = mkdtempSync(path.join(tmpdir(), "nb-store-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  contract("contract", () => new LocalImageStore(root));

  it("writes through a temp name: a file is whole or absent, and no temp file stays", async () => {
    const store = new LocalImageStore(root);
    const key = resultKey(randomUUID(), "image/png");
    const bytes = randomBytes(5000);
    expect((await store.put(key, bytes, { contentType: "image/png" })).bytes).toBe(5000);
    expect(sha(await readAll((await store.get(key))!.body))).toBe(sha(bytes));
    expect(readdirSync(path.join(root, ".tmp"))).toEqual([]);
  });

  it("sweeps this host's temp files of dead processes and old ones, keeps live and other hosts' fresh ones", async () => {
    const store = new LocalImageStore(root);
    const tmp = path.join(root, ".tmp");
    mkdirSync(tmp, { recursive: true });
    const name = (host: string, pid: number) => `${host}-${pid}-${randomBytes(8).toString("hex")}.part`;
    // A pid far above pid_max: no such process here.
    const deadHere = name(HOST_TAG, 99999999);
    // Another instance sharing DATA_DIR: its pid means nothing on this host, and its copy is live.
    const otherHost = name(`other-${HOST_TAG}`, 99999999);
    const mineLive = name(HOST_TAG, process.pid);
    const mineStale = name(HOST_TAG, process.pid);
    const otherStale = name("another-host", 12);
    const olderVersion = "99999999-aa.part";
    for (const file of [deadHere, otherHost, mineLive, mineStale, otherStale, olderVersion]) {
      writeFileSync(path.join(tmp, file), "partial");
    }
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const file of [mineStale, otherStale, olderVersion]) utimesSync(path.join(tmp, file), old, old);
    expect(await store.sweepIncomplete({ olderThanMs: 3600_000 })).toBe(4);
    expect(readdirSync(tmp).sort()).toEqual([mineLive, otherHost].sort());
  });

  it("reports an unwritable folder as the store being unavailable", async () => {
    const file = path.join(root, "not-a-folder");
    writeFileSync(file, "x");
    const store = new LocalImageStore(file);
    await expect(
      store.put(resultKey(randomUUID(), "image/png"), randomBytes(10), { contentType: "image/png" }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe.skipIf(skipWithoutTmpfs("local adapter on a full disk"))(
  "local adapter on a full disk (tmpfs)",
  () => {
    let disk: Tmpfs;
    const scratch = mkdtempSync(path.join(tmpdir(), "nb-store-src-"));
    beforeAll(() => {
      disk = mountTmpfs(1024 * 1024);
    });
    afterAll(() => {
      disk?.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    it("a put that does not fit is refused whole, leaves nothing, and fits once space returns", async () => {
      const store = new LocalImageStore(disk.dir);
      const key = resultKey(randomUUID(), "image/png");
      // 24 KiB left, 100 KiB to write in one buffer: the kernel writes what fits and says so.
      const full = disk.fill(24 * 1024);
      const bytes = randomBytes(100 * 1024);
      await expect(store.put(key, bytes, { contentType: "image/png" })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(await store.get(key)).toBeUndefined();
      expect(readdirSync(path.join(disk.dir, ".tmp"))).toEqual([]);
      // The same as a stream of chunks, and from a file.
      const streamed = randomStream(300 * 1024);
      await expect(store.put(key, streamed.stream, { contentType: "image/png" })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      expect(await store.get(key)).toBeUndefined();

      full.free();
      const put = await store.put(key, bytes, { contentType: "image/png" });
      const got = await store.get(key);
      expect(put.bytes).toBe(bytes.byteLength);
      expect(got?.size).toBe(put.bytes);
      expect(sha(await readAll(got!.body))).toBe(sha(bytes));
    });

    it("putFile of a file that does not fit is refused and leaves nothing", async () => {
      const source = path.join(scratch, "source.png");
      const bytes = randomBytes(200 * 1024);
      writeFileSync(source, bytes);
      const store = new LocalImageStore(disk.dir);
      const key = resultKey(randomUUID(), "image/png");
      const full = disk.fill(24 * 1024);
      try {
        await expect(store.putFile(key, source, { contentType: "image/png" })).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
        expect(await store.get(key)).toBeUndefined();
      } finally {
        full.free();
      }
      const put = await store.putFile(key, source, { contentType: "image/png" });
      expect(put.bytes).toBe(bytes.byteLength);
      const got = await store.get(key);
      expect(got?.size).toBe(bytes.byteLength);
      expect(sha(await readAll(got!.body))).toBe(sha(bytes));
    });
  },
);

describe("s3 adapter (s3rver)", () => {
  let s3: TestS3;
  let store: S3ImageStore;
  beforeAll(async () => {
    s3 = await startTestS3();
    store = new S3ImageStore({
      endpoint: s3.endpoint,
      region: "us-east-1",
      bucket: s3.bucket,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      forcePathStyle: true,
      requestTimeoutMs: 5_000,
    });
  });
  afterAll(async () => {
    await store?.close();
    await s3?.close();
  });
  contract("contract", () => store);

  it("presigns a GET that works without credentials", async () => {
    const key = resultKey(randomUUID(), "image/png");
    const bytes = randomBytes(2048);
    await store.put(key, bytes, { contentType: "image/png" });
    const url = await store.presign(key, { expiresInSeconds: 60, downloadName: "x.png" });
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("a store that is down is StoreUnavailableError, and works again once it is back", async () => {
    const key = resultKey(randomUUID(), "image/png");
    await s3.stop();
    try {
      await expect(store.put(key, randomBytes(100), { contentType: "image/png" })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.get(key)).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await s3.start();
    }
    await store.put(key, randomBytes(100), { contentType: "image/png" });
    expect((await store.get(key))?.size).toBe(100);
  });
});
