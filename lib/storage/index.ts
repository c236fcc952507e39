/** lib/storage: where results live once copied from KIE (DESIGN.md §9). Framework-free. */
import path from "node:path";
import { LocalImageStore } from "./local";
import type { S3StoreOptions } from "./s3";
import type { ImageStore } from "./types";

export * from "./keys";
export { LocalImageStore } from "./local";
export * from "./range";
export type { S3StoreOptions } from "./s3";
export { HOST_TAG, spoolDirOf, sweepTempFiles, TEMP_MAX_AGE_MS, tempFileName, writeAll } from "./tempFiles";
export * from "./types";

export type ImageStoreConfig = { kind: "local"; dataDir: string } | ({ kind: "s3" } & S3StoreOptions);

/**
 * The adapter IMAGE_STORE names: local files under DATA_DIR/images, or an S3 bucket. The S3 SDK
 * is loaded only when it is used.
 */
export async function createImageStore(config: ImageStoreConfig): Promise<ImageStore> {
  if (config.kind === "s3") {
    const { S3ImageStore } = await import("./s3");
    return new S3ImageStore(config);
  }
  return new LocalImageStore(path.join(config.dataDir, "images"));
}
