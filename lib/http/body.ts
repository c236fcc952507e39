import type { z } from "zod";
import { ApiError } from "./errors";

/**
 * Reads a JSON body of at most `maxBytes` and validates it with `schema`. Malformed JSON, a body
 * that is too large or a schema violation is a 400/413 before any work is done.
 */
export async function readJson<S extends z.ZodType>(
  request: Request,
  schema: S,
  { maxBytes = 64 * 1024 }: { maxBytes?: number } = {},
): Promise<z.infer<S>> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes)
    throw new ApiError("file_too_large", `The request body is larger than ${maxBytes} bytes.`);
  let text: string;
  try {
    text = await request.text();
  } catch (cause) {
    throw new ApiError("invalid_request", "The request body could not be read.", { cause });
  }
  if (Buffer.byteLength(text) > maxBytes) {
    throw new ApiError("file_too_large", `The request body is larger than ${maxBytes} bytes.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_request", "The request body is not valid JSON.");
  }
  return schema.parse(value);
}
