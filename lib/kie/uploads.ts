/**
 * Uploads to KIE's file host (kie-api.md "Upload a file"): small in-memory files as base64 JSON,
 * anything else streamed as multipart. Both are idempotent: a retry sends the same file name, so
 * it overwrites rather than duplicates. The answer names the file's URL under one of three names.
 */
import { randomUUID } from "node:crypto";
import { FormData } from "undici";
import { z } from "zod";
import type { KieEnvelope } from "./dto";
import { httpUrlString, lenient, lenientNumber, lenientString } from "./lenient";
import type { CallSpec } from "./transport";
import type { KieCallOptions } from "./types";

export interface UploadedFile {
  /** Public URL of the uploaded file (deleted by KIE after about 3 days). */
  downloadUrl: string;
  fileName?: string;
  filePath?: string;
  fileSize?: number;
  mimeType?: string;
}

const uploadDataSchema = z
  .looseObject({
    downloadUrl: lenient(httpUrlString),
    fileUrl: lenient(httpUrlString),
    url: lenient(httpUrlString),
    fileName: lenientString,
    originalName: lenientString,
    filePath: lenientString,
    fileSize: lenientNumber,
    mimeType: lenientString,
  })
  .transform((d) => ({ ...d, downloadUrl: d.downloadUrl ?? d.fileUrl ?? d.url }))
  .refine((d) => d.downloadUrl !== undefined, { error: "upload answer has no downloadUrl/fileUrl/url" });

/** Normalizes the `data` of an upload answer; undefined when it names no URL. */
export function toUploadedFile(raw: unknown): UploadedFile | undefined {
  const parsed = uploadDataSchema.safeParse(raw);
  if (!parsed.success || !parsed.data.downloadUrl) return undefined;
  const d = parsed.data;
  const file: UploadedFile = { downloadUrl: d.downloadUrl as string };
  const fileName = d.fileName ?? d.originalName;
  if (fileName) file.fileName = fileName;
  if (d.filePath) file.filePath = d.filePath;
  if (d.fileSize !== undefined) file.fileSize = d.fileSize;
  if (d.mimeType) file.mimeType = d.mimeType;
  return file;
}

export interface UploadFileInput {
  /** A Blob is streamed as it is (never read into memory); a Uint8Array is sent from memory. */
  data: Blob | Uint8Array;
  /** Reusing a name overwrites that file at KIE; when absent a unique name is generated. */
  fileName?: string;
  mimeType: string;
}

export interface UploadOptions extends KieCallOptions {
  /** Folder at KIE; defaults to the client's `defaultUploadPath`. */
  uploadPath?: string;
}

export interface UploadSettings {
  uploadBaseUrl: string;
  /** Uint8Array files up to this size go through the base64 endpoint. */
  base64UploadMaxBytes: number;
  defaultUploadPath: string;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
};

function uploadedFile(envelope: KieEnvelope): UploadedFile {
  const file = toUploadedFile(envelope.data);
  if (!file) throw new Error("upload answer names no downloadUrl, fileUrl or url");
  return file;
}

/** The call that uploads `file`: base64 for small bytes, multipart for Blobs and large bytes. */
export function uploadCall(
  file: UploadFileInput,
  opts: UploadOptions,
  settings: UploadSettings,
): CallSpec<UploadedFile> {
  const uploadPath = opts.uploadPath ?? settings.defaultUploadPath;
  const fileName = file.fileName ?? `${randomUUID()}.${EXTENSIONS[file.mimeType] ?? "bin"}`;
  const common = { method: "POST", idempotent: true, opts, parse: uploadedFile } as const;

  if (file.data instanceof Uint8Array && file.data.byteLength <= settings.base64UploadMaxBytes) {
    const base64Data = `data:${file.mimeType};base64,${Buffer.from(file.data).toString("base64")}`;
    const json = JSON.stringify({ base64Data, uploadPath, fileName });
    return {
      ...common,
      endpoint: "fileBase64Upload",
      url: `${settings.uploadBaseUrl}/api/file-base64-upload`,
      body: () => ({ body: json, contentType: "application/json" }),
    };
  }

  const blob =
    file.data instanceof Uint8Array
      ? new Blob([file.data as Uint8Array<ArrayBuffer>], { type: file.mimeType })
      : file.data.type === file.mimeType
        ? file.data
        : // slice() relabels the type without reading the bytes.
          file.data.slice(0, file.data.size, file.mimeType);
  return {
    ...common,
    endpoint: "fileStreamUpload",
    url: `${settings.uploadBaseUrl}/api/file-stream-upload`,
    body: () => {
      const form = new FormData();
      form.append("file", blob, fileName);
      form.append("uploadPath", uploadPath);
      form.append("fileName", fileName);
      return { body: form };
    },
  };
}
