/**
 * IMAGE_STORE=local (the default): files under DATA_DIR/images. A write goes to a temp file named
 * after this host and process (`.tmp/<host>-<pid>-<random>.part`), every byte written and counted,
 * is fsynced, renamed into place and the folder fsynced: a reader sees the whole file or none, and
 * a crash leaves only a temp file, which sweepIncomplete() removes once its process is gone. Any
 * local I/O error (ENOSPC, EIO, EMFILE, a short write) is StoreUnavailableError.
 */
import { constants } from "node:fs";
import { copyFile, type FileHandle, mkdir, open, opendir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { assertKey, contentTypeOfKey } from "./keys";
import { type ByteRangeSpec, resolveRange } from "./range";
import { isMissing, sweepTempFiles, tempFileName, writeAll } from "./tempFiles";
import {
  type ImageStore,
  type PutOptions,
  type StoredEntry,
  type StoredObject,
  StoreUnavailableError,
} from "./types";

const TEMP_DIR = ".tmp";

export class LocalImageStore implements ImageStore {
  readonly kind = "local" as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The file of a key; refuses (even for a valid key) anything that would leave the root. */
  pathOf(key: string): string {
    const file = path.resolve(this.root, assertKey(key));
    if (!file.startsWith(`${this.root}${path.sep}`)) throw new StoreUnavailableError("get");
    return file;
  }

  async put(key: string, body: Readable | Uint8Array, _options: PutOptions): Promise<{ bytes: number }> {
    return this.writeAtomically(key, async (temp) => {
      const handle = await open(temp, "wx", 0o600);
      let bytes = 0;
      try {
        const source: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
          body instanceof Uint8Array ? [body] : body;
        for await (const chunk of source) bytes += await writeAll(handle, chunk);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return bytes;
    });
  }

  /** The kernel copies the file (no bytes pass through JavaScript), then the same rename. */
  async putFile(key: string, file: string, _options: PutOptions): Promise<{ bytes: number }> {
    return this.writeAtomically(key, async (temp) => {
      const { size } = await stat(file);
      await copyFile(file, temp, constants.COPYFILE_EXCL);
      const handle = await open(temp, "r+");
      try {
        await handle.sync();
        const copied = (await handle.stat()).size;
        if (copied !== size) throw new Error(`short copy: ${copied} of ${size} bytes`);
        return copied;
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * A crash never leaves half an image under a key: `fill` writes (and fsyncs) a temp file of the
   * store's own and returns its size, then one rename puts it in place and the directory is
   * synced. On failure the temp file is removed (the sweep catches what a kill -9 leaves).
   */
  private async writeAtomically(
    key: string,
    fill: (temp: string) => Promise<number>,
  ): Promise<{ bytes: number }> {
    const target = this.pathOf(key);
    const tempDir = path.join(this.root, TEMP_DIR);
    const temp = tempFileName(tempDir);
    try {
      await mkdir(tempDir, { recursive: true, mode: 0o700 });
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const bytes = await fill(temp);
      await rename(temp, target);
      await syncDir(path.dirname(target));
      return { bytes };
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw new StoreUnavailableError("put", { cause: error });
    }
  }

  /**
   * One open file serves the size, the range and the bytes (no window between a stat and the read).
   * An unsatisfiable range closes it at once and answers with an empty body.
   */
  async get(key: string, options: { range?: ByteRangeSpec } = {}): Promise<StoredObject | undefined> {
    const file = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw new StoreUnavailableError("get", { cause: error });
    }
    try {
      const info = await handle.stat();
      const contentType = contentTypeOfKey(key);
      const range = options.range && resolveRange(options.range, info.size);
      if (!info.isFile() || range === "unsatisfiable") {
        await handle.close();
        if (!info.isFile()) return undefined;
        return { body: Readable.from([]), size: info.size, contentType, range };
      }
      const body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
      return { body, size: info.size, contentType, ...(range && { range }) };
    } catch (error) {
      await handle.close().catch(() => {});
      throw new StoreUnavailableError("get", { cause: error });
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.pathOf(key), { force: true });
    } catch (error) {
      throw new StoreUnavailableError("delete", { cause: error });
    }
  }

  async *list(prefix: string): AsyncIterable<StoredEntry> {
    const base = path.join(this.root, prefix.replace(/\/+$/, ""));
    if (!base.startsWith(this.root)) return;
    yield* this.walk(base);
  }

  private async *walk(dir: string): AsyncIterable<StoredEntry> {
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir);
    } catch (error) {
      if (isMissing(error)) return;
      throw new StoreUnavailableError("list", { cause: error });
    }
    for await (const entry of handle) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== TEMP_DIR) yield* this.walk(full);
      } else if (entry.isFile()) {
        const info = await stat(full).catch(() => undefined);
        if (info) {
          yield { key: path.relative(this.root, full).split(path.sep).join("/"), lastModified: info.mtime };
        }
      }
    }
  }

  async sweepIncomplete({ olderThanMs }: { olderThanMs: number }): Promise<number> {
    return sweepTempFiles(path.join(this.root, TEMP_DIR), olderThanMs);
  }

  async close(): Promise<void> {}
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
