import { type GenerationPageCursor, isUuid } from "@/lib/db/generations";
import { ApiError } from "./errors";

/** Opaque page cursor for `GET /api/generations` (base64url of the last job's id). */
export function encodeCursor(cursor: GenerationPageCursor): string {
  return Buffer.from(`g1:${cursor.id}`).toString("base64url");
}

export function decodeCursor(raw: string): GenerationPageCursor {
  const decoded =
    raw.length <= 100 && /^[A-Za-z0-9_-]+$/.test(raw) ? Buffer.from(raw, "base64url").toString("utf8") : "";
  const id = decoded.startsWith("g1:") ? decoded.slice(3) : "";
  if (!isUuid(id))
    throw new ApiError("invalid_request", "The cursor is malformed; use nextCursor from a previous page.");
  return { id };
}
