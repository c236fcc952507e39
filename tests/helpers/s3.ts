/**
 * A real S3-compatible HTTP server for tests (s3rver), on 127.0.0.1 and an ephemeral port, with one
 * bucket, its files in a temp folder removed on stop. `stop()` then `start()` again on the same
 * port simulates an outage and a recovery.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The env the app needs to use this server (IMAGE_STORE=s3, S3_*). */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Starts again on the same port, with the same files. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestS3(bucket = "nano-banana-test"): Promise<TestS3> {
  const directory = mkdtempSync(path.join(tmpdir(), "nb-s3-"));
  let port = 0;
  let server: S3rver | undefined;
  const start = async () => {
    server = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    const address = (await server.run()) as AddressInfo;
    port = address.port;
  };
  const stop = async () => {
    await server?.close();
    server = undefined;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      IMAGE_STORE: "s3",
      IMAGE_URL_SECRET: "s3-test-image-link-secret-0123456789abcdef",
      S3_ENDPOINT: endpoint,
      S3_REGION: "us-east-1",
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "true",
    },
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * What a browser ends up with for an image answer: with IMAGE_STORE=s3 the app answers a 302 to a
 * presigned URL of the bucket (DESIGN.md §9), which is fetched here — only on loopback.
 */
export async function followImage(response: Response): Promise<Response> {
  if (response.status !== 302) return response;
  const location = new URL(response.headers.get("location") as string);
  if (location.hostname !== "127.0.0.1")
    throw new Error(`an image redirect off loopback: ${location.origin}`);
  return fetch(location);
}
