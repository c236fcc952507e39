/**
 * The three upload endpoints (kie-api.md "File upload"): multipart stream, base64 and URL. Each
 * ends in storeUpload, which names the file, picks its MIME type and answers the upload envelope.
 */
import { randomBytes } from "node:crypto";
import { FetchError } from "../fetchGuard";
import { type Reply, type RequestContext, type Route, readJson, UPLOAD_ENVELOPE } from "../http";
import { EXTENSION_BY_MIME, MIME_BY_EXTENSION, sniffMimeType } from "../images";
import { BodyTooLargeError, readBody } from "../net";
import type { SimState } from "../state";

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;
/** Room for multipart boundaries and JSON around the file's bytes. */
const BODY_SLACK = 64 * 1024;

function checkUploadPath(value: unknown): string | undefined {
  if (typeof value !== "string" || value.trim() === "") return "uploadPath is required";
  const segments = value
    .trim()
    .replace(/^\/+|\/+$/g, "")
    .split("/");
  if (segments.some((s) => !SAFE_SEGMENT.test(s) || s === "." || s === "..")) {
    return "uploadPath must be a folder path of letters, digits, '.', '_' and '-' segments";
  }
  return undefined;
}

function checkFileName(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (
    typeof value !== "string" ||
    /[/\\\0]/.test(value) ||
    value === "." ||
    value === ".." ||
    value.length > 255
  ) {
    return "fileName must be a plain file name (no slashes, at most 255 characters)";
  }
  return undefined;
}

function tooLarge(sim: SimState): Reply {
  return UPLOAD_ENVELOPE.error(400, `file exceeds the ${sim.settings.maxUploadBytes} byte limit`);
}

interface Upload {
  bytes: Buffer;
  uploadPath: unknown;
  fileName: unknown;
  /** The type the client declared (a part's type, a data: URI's, a source's Content-Type). */
  declaredType?: string;
  /** A name to take an extension from when none is given (the part's or the URL's file name). */
  hintName?: string;
}

const extensionOf = (name?: string) => name?.match(/\.([A-Za-z0-9]+)$/)?.[1]?.toLowerCase();

/** Sniffed from the bytes, else from the given name, the declared type, the hint name. */
function mimeTypeOf(upload: Upload, given: string | undefined): string {
  const declared =
    upload.declaredType && /^[\w.+-]+\/[\w.+-]+$/.test(upload.declaredType) ? upload.declaredType : undefined;
  return (
    sniffMimeType(upload.bytes) ??
    MIME_BY_EXTENSION[extensionOf(given) ?? ""] ??
    declared ??
    MIME_BY_EXTENSION[extensionOf(upload.hintName) ?? ""] ??
    "application/octet-stream"
  );
}

function storeUpload(sim: SimState, upload: Upload): Reply {
  const problem = checkUploadPath(upload.uploadPath) ?? checkFileName(upload.fileName);
  if (problem) return UPLOAD_ENVELOPE.error(400, problem);
  if (upload.bytes.length === 0) return UPLOAD_ENVELOPE.error(400, "file is empty");
  const folder = (upload.uploadPath as string).trim().replace(/^\/+|\/+$/g, "");
  const given = typeof upload.fileName === "string" && upload.fileName !== "" ? upload.fileName : undefined;
  const mimeType = mimeTypeOf(upload, given);
  const fileName =
    given ??
    `${randomBytes(8).toString("hex")}.${EXTENSION_BY_MIME[mimeType] ?? extensionOf(upload.hintName) ?? "bin"}`;
  const filePath = `${folder}/${fileName}`;
  const now = Date.now();
  sim.blobs.set(`files/${filePath}`, { bytes: upload.bytes, mimeType, createdAt: now });
  sim.stats.uploads += 1;
  return UPLOAD_ENVELOPE.ok(
    {
      fileName,
      filePath,
      downloadUrl: `${sim.base}/files/${filePath.split("/").map(encodeURIComponent).join("/")}`,
      fileSize: upload.bytes.length,
      mimeType,
      uploadedAt: new Date(now).toISOString(),
    },
    "File uploaded successfully",
  );
}

async function streamUpload(ctx: RequestContext): Promise<Reply> {
  const { sim } = ctx;
  const contentType = ctx.req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    ctx.req.resume();
    return UPLOAD_ENVELOPE.error(400, "Content-Type must be multipart/form-data with a 'file' part");
  }
  let raw: Buffer;
  try {
    raw = await readBody(ctx.req, {
      maxBytes: sim.settings.maxUploadBytes + BODY_SLACK,
      bytesPerSecond: ctx.bytesPerSecond,
      signal: sim.signal,
    });
  } catch (error) {
    if (error instanceof BodyTooLargeError) return tooLarge(sim);
    throw error;
  }
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw), { headers: { "content-type": contentType } }).formData();
  } catch {
    return UPLOAD_ENVELOPE.error(400, "malformed multipart/form-data body");
  }
  const file = form.get("file");
  if (!(file instanceof Blob)) {
    return UPLOAD_ENVELOPE.error(400, "file is required (a multipart file part named 'file')");
  }
  return storeUpload(sim, {
    bytes: Buffer.from(await file.arrayBuffer()),
    uploadPath: form.get("uploadPath"),
    fileName: form.get("fileName"),
    declaredType: file.type,
    hintName: file instanceof File ? file.name : undefined,
  });
}

async function base64Upload(ctx: RequestContext): Promise<Reply> {
  const { sim } = ctx;
  const parsed = await readJson(ctx, Math.ceil(sim.settings.maxUploadBytes * 1.4) + BODY_SLACK);
  if (parsed.error) return parsed.error;
  const body = (parsed.body ?? {}) as Record<string, unknown>;
  const data = body.base64Data;
  if (typeof data !== "string" || data.trim() === "")
    return UPLOAD_ENVELOPE.error(400, "base64Data is required");
  const match = /^data:([^;,]*)((?:;[^;,]*)*);base64,(.*)$/s.exec(data.trim());
  const payload = (match ? match[3]! : data).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload) || payload.length === 0) {
    return UPLOAD_ENVELOPE.error(400, "base64Data must be base64 or a data:<type>;base64,… URI");
  }
  const bytes = Buffer.from(payload, "base64");
  if (bytes.length > sim.settings.maxUploadBytes) return tooLarge(sim);
  return storeUpload(sim, {
    bytes,
    uploadPath: body.uploadPath,
    fileName: body.fileName,
    declaredType: match?.[1] || undefined,
  });
}

function sourceUrl(fileUrl: unknown): URL | string {
  if (typeof fileUrl !== "string" || fileUrl.trim() === "") return "fileUrl is required";
  try {
    const source = new URL(fileUrl);
    if (source.protocol === "http:" || source.protocol === "https:") return source;
  } catch {}
  return "fileUrl must be an http(s) URL";
}

async function urlUpload(ctx: RequestContext): Promise<Reply> {
  const { sim } = ctx;
  const parsed = await readJson(ctx);
  if (parsed.error) return parsed.error;
  const body = (parsed.body ?? {}) as Record<string, unknown>;
  const source = sourceUrl(body.fileUrl);
  if (typeof source === "string") return UPLOAD_ENVELOPE.error(400, source);
  // Check the other fields before spending up to 30 s on the download.
  const pathProblem = checkUploadPath(body.uploadPath) ?? checkFileName(body.fileName);
  if (pathProblem) return UPLOAD_ENVELOPE.error(400, pathProblem);

  let fetched: Awaited<ReturnType<SimState["sources"]["fetch"]>>;
  try {
    fetched = await sim.sources.fetch(source.href, sim.settings.maxUploadBytes);
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    const code = error.answered ? 400 : 500;
    return UPLOAD_ENVELOPE.error(code, `fileUrl could not be downloaded: ${error.message}`);
  }
  if (!fetched) return UPLOAD_ENVELOPE.error(400, "fileUrl could not be downloaded: HTTP 404");
  return storeUpload(sim, {
    bytes: fetched.bytes,
    uploadPath: body.uploadPath,
    fileName: body.fileName,
    declaredType: fetched.contentType?.split(";")[0]?.trim(),
    hintName: decodeURIComponent(source.pathname.split("/").pop() ?? ""),
  });
}

const upload = (endpoint: Route["endpoint"], handle: Route["handle"]): Route => ({
  method: "POST",
  endpoint,
  envelope: UPLOAD_ENVELOPE,
  handle,
});

export const UPLOAD_ROUTES: Record<string, Route> = {
  "/api/file-stream-upload": upload("fileStreamUpload", streamUpload),
  "/api/file-base64-upload": upload("fileBase64Upload", base64Upload),
  "/api/file-url-upload": upload("fileUrlUpload", urlUpload),
};
