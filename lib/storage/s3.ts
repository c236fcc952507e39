/**
 * IMAGE_STORE=s3: any S3-compatible store (AWS, Supabase Storage's S3 endpoint, R2, MinIO). Writes
 * stream through @aws-sdk/lib-storage (one PUT for a small body, a multipart upload otherwise, which
 * S3 makes visible only once completed), so a crash mid-write leaves no object. An interrupted
 * multipart upload leaves parts that S3 bills for: a bucket lifecycle rule
 * (AbortIncompleteMultipartUpload) removes them; docs/STORAGE.md says so.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { assertKey } from "./keys";
import {
  type ImageStore,
  type PresignOptions,
  type PutOptions,
  type StoredEntry,
  type StoredObject,
  StoreUnavailableError,
} from "./types";

export interface S3StoreOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** One HTTP call's cap; default 30 s. */
  requestTimeoutMs?: number;
}

/** lib-storage buffers up to queueSize × partSize: 2 × 5 MiB keeps a copy's memory small. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** Up to this, putFile sends one PutObject (S3 takes up to 5 GiB in one); larger goes multipart. */
const SINGLE_PUT_MAX_BYTES = 64 * 1024 * 1024;

export class S3ImageStore implements ImageStore {
  readonly kind = "s3" as const;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      // Checksums only where S3 requires them: several S3-compatible stores refuse the newer ones.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 30_000, connectionTimeout: 5_000 },
    });
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions): Promise<{ bytes: number }> {
    assertKey(key);
    let bytes = 0;
    const counted =
      body instanceof Uint8Array
        ? body
        : body.on("data", (chunk: Uint8Array) => {
            bytes += chunk.byteLength;
          });
    try {
      const upload = new Upload({
        client: this.client,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: counted,
          ContentType: options.contentType,
          ...(options.contentLength !== undefined && { ContentLength: options.contentLength }),
        },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw new StoreUnavailableError("put", { cause: error });
    }
    return { bytes: body instanceof Uint8Array ? body.byteLength : bytes };
  }

  /**
   * A file of known size goes up as one streamed PutObject: no part buffers (a multipart upload
   * holds partSize × queueSize bytes in memory), which keeps a result's copy flat (bench/).
   */
  async putFile(key: string, file: string, options: PutOptions): Promise<{ bytes: number }> {
    assertKey(key);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (error) {
      throw new StoreUnavailableError("put", { cause: error });
    }
    if (size > SINGLE_PUT_MAX_BYTES) return this.put(key, createReadStream(file), options);
    const body = createReadStream(file);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          ContentLength: size,
        }),
      );
    } catch (error) {
      body.destroy();
      throw new StoreUnavailableError("put", { cause: error });
    }
    return { bytes: size };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertKey(key);
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(answer.Body instanceof Readable)) throw new TypeError("S3 answered without a Node stream");
      return {
        body: answer.Body,
        size: answer.ContentLength ?? 0,
        contentType: answer.ContentType,
        etag: answer.ETag,
      };
    } catch (error) {
      if (error instanceof NoSuchKey || statusOf(error) === 404) return undefined;
      throw new StoreUnavailableError("get", { cause: error });
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw new StoreUnavailableError("delete", { cause: error });
    }
  }

  async *list(prefix: string): AsyncIterable<StoredEntry> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw new StoreUnavailableError("list", { cause: error });
      }
      for (const item of page.Contents ?? []) {
        if (item.Key) yield { key: item.Key, lastModified: item.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** A GET of `key` signed for `expiresInSeconds` from `signingDate`; S3 serves Range on it itself. */
  async presign(key: string, options: PresignOptions): Promise<string> {
    assertKey(key);
    try {
      return await getSignedUrl(
        this.client,
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(options.downloadName && {
            ResponseContentDisposition: `attachment; filename="${options.downloadName}"`,
          }),
          ...(options.contentType && { ResponseContentType: options.contentType }),
          ...(options.cacheControl && { ResponseCacheControl: options.cacheControl }),
        }),
        { expiresIn: options.expiresInSeconds, signingDate: options.signingDate },
      );
    } catch (error) {
      throw new StoreUnavailableError("presign", { cause: error });
    }
  }

  /** Nothing to do here: S3 never shows an unfinished upload (see the lifecycle rule above). */
  async sweepIncomplete(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}
