/**
 * multipart/form-data through a streaming parser (busboy) with limits on the whole body, each
 * file, the number of files and fields, and each field's size (DESIGN.md §3 "Requests"). The
 * first limit passed ends the read at once (413 for bytes, 400 for counts); nothing past a limit
 * is kept. Never `Request.formData()`, which buffers the whole body before anyone can count it.
 *
 * File parts are spooled to a folder of the request's own under DATA_DIR/spool/uploads as they
 * arrive and handed on as file-backed Blobs, hashed on the way: five 10 MiB uploads are not held
 * in memory (docs/BENCHMARKS.md, "uploads"). The folder lives until the form and every reader
 * that retained it are done.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, openAsBlob } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import { tempFileName } from "@/lib/storage/tempFiles";
import { bodyChunks } from "./body";
import { ApiError } from "./errors";

export interface MultipartLimits {
  /** Where file parts are spooled (a folder of the request's own is made inside): DATA_DIR/spool/uploads. */
  spoolDir: string;
  maxBodyBytes: number;
  maxFileBytes: number;
  maxFiles: number;
  maxFields: number;
  maxFieldBytes: number;
  /** No byte of the body for this long → 408 and the spool is removed (body.ts's default when unset). */
  idleTimeoutMs?: number;
}

export interface MultipartFile {
  name: string;
  /** The part's bytes, in a temporary file (valid until the form is disposed of). */
  data: Blob;
  /** Hex sha256 of the bytes. */
  sha256: string;
  filename?: string;
  /** What the client declared; for logs only. */
  mimeType?: string;
}

export interface MultipartForm {
  /** Text fields in the order sent. */
  fields: [name: string, value: string][];
  files: MultipartFile[];
  /**
   * Keeps the spooled files until the returned function is called: for each reader that may
   * outlive the request's own use (an upload still running, the background input copy).
   */
  retain(): () => Promise<void>;
  /** Lets go of the form's own hold: the files are deleted once every holder has let go. */
  dispose(): Promise<void>;
}

export async function readMultipart(request: Request, limits: MultipartLimits): Promise<MultipartForm> {
  const parser = createParser(request, limits);
  const failure = firstFailure();
  const spool = createSpool(limits.spoolDir);
  const form: MultipartForm = { fields: [], files: [], retain: spool.retain, dispose: spool.dispose };
  const slots: (MultipartFile | undefined)[] = [];
  const pending = collectParts(parser, limits, form, failure.stop, spool, slots);

  let complete = false;
  try {
    for await (const chunk of bodyChunks(request, limits.maxBodyBytes, {
      idleTimeoutMs: limits.idleTimeoutMs,
    })) {
      if (failure.error) break;
      if (!parser.write(chunk)) await Promise.race([once(parser, "drain"), failure.failed]);
      if (failure.error) break;
    }
    if (failure.error) throw failure.error;
    parser.end();
    await Promise.race([once(parser, "close"), failure.failed]);
    await Promise.race([Promise.all(pending), failure.failed]);
    form.files = slots.filter((file): file is MultipartFile => file !== undefined);
    complete = true;
  } catch (error) {
    throw failure.error ?? error;
  } finally {
    if (!complete) {
      parser.destroy();
      await Promise.allSettled(pending);
      await spool.dispose();
    }
  }
  return form;
}

/**
 * A folder of this request's own (`<host>-<pid>-<random>`, 0700), made when the first file
 * arrives, removed once its last holder lets go: the form itself (dispose) and every reader that
 * may outlive it (retain). A crash leaves it to the temp sweep (sweepTempFiles).
 */
function createSpool(parent: string) {
  let folder: Promise<string> | undefined;
  let count = 0;
  let holders = 1;
  let removed: Promise<void> | undefined;
  const release = async () => {
    if (--holders > 0) return;
    removed ??= (async () => {
      const made = await folder?.catch(() => undefined);
      // A folder that cannot be removed now is the temp sweep's (it is named for that).
      if (made) await rm(made, { recursive: true, force: true }).catch(() => {});
    })();
    await removed;
  };
  const once = () => {
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      await release();
    };
  };
  const own = once();
  return {
    async nextFile(): Promise<string> {
      folder ??= (async () => {
        await mkdir(parent, { recursive: true, mode: 0o700 });
        const made = tempFileName(parent, "");
        await mkdir(made, { mode: 0o700 });
        return made;
      })();
      return path.join(await folder, `part-${count++}`);
    },
    retain(): () => Promise<void> {
      if (removed) throw new Error("the upload spool is already disposed of");
      holders++;
      return once();
    },
    dispose: own,
  };
}

/** Writes a part to `file` while hashing it. */
async function spoolPart(stream: Readable, file: string): Promise<{ sha256: string }> {
  const hash = createHash("sha256");
  await pipeline(
    stream,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(file, { flags: "wx", mode: 0o600 }),
  );
  return { sha256: hash.digest("hex") };
}

function createParser(request: Request, limits: MultipartLimits): busboy.Busboy {
  try {
    return busboy({
      headers: { "content-type": request.headers.get("content-type") ?? "" },
      limits: {
        fileSize: limits.maxFileBytes,
        files: limits.maxFiles,
        fields: limits.maxFields,
        parts: limits.maxFiles + limits.maxFields,
        fieldSize: limits.maxFieldBytes,
        fieldNameSize: 100,
        headerPairs: 20,
      },
    });
  } catch (cause) {
    throw new ApiError("invalid_request", "The multipart/form-data body could not be read.", { cause });
  }
}

/** The first refusal: `stop` records it and rejects `failed`, which the read races against. */
function firstFailure() {
  let reject!: (error: ApiError) => void;
  const failed = new Promise<never>((_, rejectWith) => {
    reject = rejectWith;
  });
  failed.catch(() => {}); // observed by the read; this keeps an early failure from being "unhandled"
  const state = {
    error: undefined as ApiError | undefined,
    failed,
    stop(error: ApiError) {
      state.error ??= error;
      reject(state.error);
    },
  };
  return state;
}

/** Fills `form` as the parser emits parts; a limit passed calls `stop`. Returns the files still being read. */
function collectParts(
  parser: busboy.Busboy,
  limits: MultipartLimits,
  form: MultipartForm,
  stop: (error: ApiError) => void,
  spool: ReturnType<typeof createSpool>,
  slots: (MultipartFile | undefined)[],
): Promise<void>[] {
  const pending: Promise<void>[] = [];
  parser.on("field", (name, value, info) => {
    if (info.nameTruncated || info.valueTruncated) {
      stop(new ApiError("invalid_request", `Field "${name}" is too long.`));
      return;
    }
    form.fields.push([name, value]);
  });
  parser.on("file", (name, stream, info) => {
    // Destroying the parser after a refusal errors every part stream, finished ones included;
    // the refusal is what is reported.
    stream.on("error", () => {});
    stream.on("limit", () => {
      stop(new ApiError("file_too_large", `A file is larger than ${limits.maxFileBytes} bytes.`));
    });
    // Parts arrive one after another; their spooling may end out of order: each keeps its slot.
    const slot = slots.length;
    slots.push(undefined);
    const spooled = (async () => {
      const file = await spool.nextFile();
      const { sha256 } = await spoolPart(stream, file);
      if (stream.truncated) return;
      const data = await openAsBlob(file);
      slots[slot] = { name, data, sha256, filename: info.filename, mimeType: info.mimeType };
    })();
    spooled.catch(() => {}); // a parser destroyed after a refusal fails its open file: already answered
    pending.push(spooled);
  });
  parser.on("filesLimit", () =>
    stop(new ApiError("invalid_request", `At most ${limits.maxFiles} images per request.`)),
  );
  parser.on("fieldsLimit", () => stop(new ApiError("invalid_request", "The form has too many fields.")));
  parser.on("partsLimit", () => stop(new ApiError("invalid_request", "The form has too many parts.")));
  parser.on("error", (cause) =>
    stop(new ApiError("invalid_request", "The multipart/form-data body could not be read.", { cause })),
  );
  return pending;
}
