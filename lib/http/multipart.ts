/**
 * multipart/form-data through a streaming parser (busboy) with limits on the whole body, each
 * file, the number of files and fields, and each field's size (DESIGN.md §3 "Requests"). The
 * first limit passed ends the read at once (413 for bytes, 400 for counts); nothing past a limit
 * is kept. Never `Request.formData()`, which buffers the whole body before anyone can count it.
 */
import { once } from "node:events";
import busboy from "busboy";
import { bodyChunks } from "./body";
import { ApiError } from "./errors";

export interface MultipartLimits {
  maxBodyBytes: number;
  maxFileBytes: number;
  maxFiles: number;
  maxFields: number;
  maxFieldBytes: number;
}

export interface MultipartFile {
  name: string;
  data: Buffer;
  filename?: string;
  /** What the client declared; for logs only. */
  mimeType?: string;
}

export interface MultipartForm {
  /** Text fields in the order sent. */
  fields: [name: string, value: string][];
  files: MultipartFile[];
}

export async function readMultipart(request: Request, limits: MultipartLimits): Promise<MultipartForm> {
  const parser = createParser(request, limits);
  const failure = firstFailure();
  const form: MultipartForm = { fields: [], files: [] };
  const pending = collectParts(parser, limits, form, failure.stop);

  let complete = false;
  try {
    for await (const chunk of bodyChunks(request, limits.maxBodyBytes)) {
      if (failure.error) break;
      if (!parser.write(chunk)) await Promise.race([once(parser, "drain"), failure.failed]);
      if (failure.error) break;
    }
    if (failure.error) throw failure.error;
    parser.end();
    await Promise.race([once(parser, "close"), failure.failed]);
    await Promise.race([Promise.all(pending), failure.failed]);
    complete = true;
  } catch (error) {
    throw failure.error ?? error;
  } finally {
    if (!complete) parser.destroy();
  }
  return form;
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
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("limit", () => {
      chunks.length = 0;
      stop(new ApiError("file_too_large", `A file is larger than ${limits.maxFileBytes} bytes.`));
    });
    const ended = once(stream, "end").then(() => {
      if (stream.truncated) return;
      form.files.push({
        name,
        data: Buffer.concat(chunks),
        filename: info.filename,
        mimeType: info.mimeType,
      });
      chunks.length = 0; // the copy above is the file now: the pieces can go before the next file
    });
    ended.catch(() => {}); // a parser destroyed after a refusal fails its open file: already answered
    pending.push(ended);
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
