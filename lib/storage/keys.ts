/**
 * Store keys. The app makes every key from a job's UUID and a fixed suffix, never from request
 * input; assertKey still refuses anything but that alphabet, so no key can climb out of the local
 * store's folder or name an unexpected S3 object.
 */

const EXTENSIONS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };
const TYPES: Record<string, string> = { png: "image/png", jpg: "image/jpeg", webp: "image/webp" };

/** Lower-case segments of [a-z0-9_-] with at most one inner dot each (no "..", no leading dot). */
const KEY = /^(?:[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*\/)*[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/;
const MAX_KEY_LENGTH = 256;

export class InvalidKeyError extends Error {
  constructor() {
    super("Invalid image store key.");
    this.name = "InvalidKeyError";
  }
}

export function assertKey(key: string): string {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) throw new InvalidKeyError();
  return key;
}

export function extensionOf(contentType: string): string {
  const ext = EXTENSIONS[contentType];
  if (!ext) throw new TypeError(`no extension for ${contentType}`);
  return ext;
}

/** The content type a key's extension names (local files have no metadata of their own). */
export function contentTypeOfKey(key: string): string | undefined {
  return TYPES[key.slice(key.lastIndexOf(".") + 1)];
}

/** The stored result of a job. */
export function resultKey(jobId: string, contentType: string): string {
  return assertKey(`results/${jobId.toLowerCase()}.${extensionOf(contentType)}`);
}

/** Its 256-px WebP thumbnail, beside it. */
export function thumbnailKey(jobId: string): string {
  return assertKey(`results/${jobId.toLowerCase()}.thumb.webp`);
}

/** The n-th uploaded input of an edit. */
export function inputKey(jobId: string, index: number, contentType: string): string {
  return assertKey(`inputs/${jobId.toLowerCase()}/${index}.${extensionOf(contentType)}`);
}

const JOB_OF_KEY = /^(?:results|inputs)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})[./]/;

/** The job a key belongs to (orphan sweep), or undefined for a key the app did not make. */
export function jobIdOfKey(key: string): string | undefined {
  return JOB_OF_KEY.exec(key)?.[1];
}
