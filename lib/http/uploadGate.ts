/**
 * Uploads bounded in number (DESIGN.md §3 "Requests", issue 24 item 2): a body of
 * POST /api/generate counts while it is being read — per user (beyond: 429) and in all (beyond:
 * 503) — and none starts while the disk under DATA_DIR is below its floor (503). Without this, a
 * client that never sends its closing boundary keeps up to 51 MiB spooled for the whole request
 * timeout, and as many of those as it opens connections.
 *
 * Counts are this process's: they bound this instance's disk and memory, which is what they are
 * for. The user is the authenticated one — never a header — so there is no bucket to choose.
 */
import { statfs } from "node:fs/promises";
import { mediaTypeOf } from "./body";
import { ApiError } from "./errors";

export interface UploadGateLimits {
  /** UPLOADS_IN_FLIGHT_MAX. */
  maxInFlight: number;
  /** UPLOADS_PER_USER_MAX. */
  maxPerUser: number;
  /** UPLOADS_MIN_FREE_DISK_MB, in bytes. */
  minFreeDiskBytes: number;
}

/** A body that declares at most this much counts in the small pool (SMALL_POOL_FACTOR). */
export const UNCOUNTED_BODY_MAX_BYTES = 64 * 1024;
/** Slots free up as bodies finish (seconds, or the idle timeout); a retry soon after is fair. */
export const UPLOAD_RETRY_AFTER_SECONDS = 5;
/** Disk does not free itself quickly: an operator has to act. */
export const DISK_RETRY_AFTER_SECONDS = 60;

export interface UploadGate {
  /**
   * Runs `read` (the reading of `request`'s body) as one of `userId`'s uploads, or refuses before
   * a byte is read. The slot is given back when `read` settles, whatever its outcome. A small body
   * takes a slot of the small pool; a multipart one, small or not, is refused while the disk is
   * below its floor.
   */
  admit<T>(userId: string, request: Request, read: () => Promise<T>): Promise<T>;
  /** Uploads being read now, in all and per user (for tests and metrics). */
  inFlight(): { total: number; users: number };
}

/** Free bytes for an unprivileged writer on the filesystem holding `dir`. */
export async function freeDiskBytes(dir: string): Promise<number> {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
}

/** Small bodies (a text prompt) have a pool of their own, this many times the large one's. */
export const SMALL_POOL_FACTOR = 8;

/** Bodies being read in one pool: in all and per user. */
function createPool(maxInFlight: number, maxPerUser: number) {
  let total = 0;
  const perUser = new Map<string, number>();
  return {
    /** Takes a slot synchronously (no await between the check and the count), or the refusal. */
    take(userId: string): (() => void) | ApiError {
      const mine = perUser.get(userId) ?? 0;
      if (mine >= maxPerUser) {
        return new ApiError(
          "rate_limited",
          `You already have ${maxPerUser} uploads in progress. Wait for one to finish.`,
          { retryAfterSeconds: UPLOAD_RETRY_AFTER_SECONDS },
        );
      }
      if (total >= maxInFlight) {
        return new ApiError(
          "service_unavailable",
          "Too many uploads in progress right now. Try again shortly.",
          {
            retryAfterSeconds: UPLOAD_RETRY_AFTER_SECONDS,
          },
        );
      }
      total++;
      perUser.set(userId, mine + 1);
      let released = false;
      return () => {
        // Once only: a second release must not free someone else's slot (or go below zero).
        if (released) return;
        released = true;
        total--;
        const left = (perUser.get(userId) ?? 1) - 1;
        if (left > 0) perUser.set(userId, left);
        else perUser.delete(userId);
      };
    },
    total: () => total,
    users: () => [...perUser.keys()],
  };
}

export function createUploadGate(
  limits: UploadGateLimits,
  dataDir: string,
  freeBytes: (dir: string) => Promise<number> = freeDiskBytes,
): UploadGate {
  const large = createPool(limits.maxInFlight, limits.maxPerUser);
  // Small bodies count too (each is still a socket and up to 64 KiB held), but in a pool of their
  // own: a text prompt is not refused because large uploads fill theirs.
  const small = createPool(limits.maxInFlight * SMALL_POOL_FACTOR, limits.maxPerUser);

  async function diskRefusal(): Promise<ApiError | undefined> {
    if (limits.minFreeDiskBytes <= 0) return undefined;
    let free: number;
    try {
      free = await freeBytes(dataDir);
    } catch {
      return undefined; // cannot tell (no folder yet): the write itself fails cleanly if it must
    }
    if (free >= limits.minFreeDiskBytes) return undefined;
    return new ApiError("service_unavailable", "The server is low on disk space. Try again later.", {
      retryAfterSeconds: DISK_RETRY_AFTER_SECONDS,
    });
  }

  return {
    async admit(userId, request, read) {
      // Only multipart bodies are spooled to disk; JSON ones are held in memory.
      const spooled = mediaTypeOf(request) === "multipart/form-data";
      const slot = (isSmallBody(request) ? small : large).take(userId);
      if (slot instanceof ApiError) throw slot;
      try {
        const low = spooled ? await diskRefusal() : undefined;
        if (low) throw low;
        return await read();
      } finally {
        slot();
      }
    },
    inFlight: () => ({
      total: large.total() + small.total(),
      users: new Set([...large.users(), ...small.users()]).size,
    }),
  };
}

/** A body whose Content-Length promises at most UNCOUNTED_BODY_MAX_BYTES (Node ends it there). */
function isSmallBody(request: Request): boolean {
  const header = request.headers.get("content-length");
  if (header === null || !/^\d+$/.test(header.trim())) return false;
  return Number(header) <= UNCOUNTED_BODY_MAX_BYTES;
}
