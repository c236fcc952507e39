/**
 * The result store (DESIGN.md §9): a small port with two adapters, local disk and S3-compatible.
 * Keys are chosen by the app (never by a request): see keys.ts.
 */
import type { Readable } from "node:stream";
import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";
import type { ByteRange, ByteRangeSpec } from "./range";

export type ImageStoreKind = "local" | "s3";

export interface PutOptions {
  contentType: string;
  /** Known size in bytes (lets S3 skip a multipart upload for small bodies). */
  contentLength?: number;
}

export interface StoredObject {
  body: Readable;
  size: number;
  contentType?: string;
  /** The store's own entity tag, when it has one (S3); the app's ETag is the image's sha256. */
  etag?: string;
  /**
   * Set when a range was asked for and the adapter serves ranges (local): the bytes `body`
   * carries, or "unsatisfiable" (then `body` is empty). Absent: `body` is the whole object.
   */
  range?: ByteRange | "unsatisfiable";
}

export interface PresignOptions {
  expiresInSeconds: number;
  /** Signs as of this time (default now): one URL for every request of a window, so caches work. */
  signingDate?: Date;
  /** An attachment with this name (Content-Disposition of the store's answer). */
  downloadName?: string;
  /** The store's answer says these, whatever the object was stored with. */
  contentType?: string;
  cacheControl?: string;
}

export interface StoredEntry {
  key: string;
  lastModified: Date;
}

export interface ImageStore {
  readonly kind: ImageStoreKind;
  /** Writes `body` under `key` whole or not at all (temp name then rename; S3 completes once). */
  put(key: string, body: Readable | Uint8Array, options: PutOptions): Promise<{ bytes: number }>;
  /** Like put, from a file on local disk (the copy step's spool file). */
  putFile(key: string, file: string, options: PutOptions): Promise<{ bytes: number }>;
  /** The object (or one range of it, where the adapter serves ranges), or undefined when there is none. */
  get(key: string, options?: { range?: ByteRangeSpec }): Promise<StoredObject | undefined>;
  /** Idempotent: deleting a missing key is fine. */
  delete(key: string): Promise<void>;
  /** Every stored key under `prefix` (for the orphan sweep). */
  list(prefix: string): AsyncIterable<StoredEntry>;
  /** A short-lived direct download URL, where the adapter can make one (S3). */
  presign?(key: string, options: PresignOptions): Promise<string>;
  /**
   * Removes what interrupted writes left behind (a kill -9 mid-write): temp files of processes that
   * are gone, and any older than `olderThanMs`. Returns how many were removed.
   */
  sweepIncomplete(options: { olderThanMs: number }): Promise<number>;
  close(): Promise<void>;
}

/**
 * The store could not be reached or refused the operation (disk full, S3 down, bad credentials):
 * the operator's problem, and usually a passing one.
 */
export class StoreUnavailableError extends Error implements HasProblem {
  constructor(
    readonly operation: "put" | "get" | "delete" | "list" | "presign",
    options?: { cause?: unknown },
  ) {
    super(`The image store is not available (${operation}).`, options);
    this.name = "StoreUnavailableError";
  }

  toProblem(): Problem {
    return {
      code: "service_unavailable",
      message: "Stored images are not available right now. Try again shortly.",
      logLevel: "error",
    };
  }
}

brand(StoreUnavailableError, "storage.StoreUnavailableError");
