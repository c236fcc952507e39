import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Compares two secrets in constant time: both sides are hashed to equal-length digests first, so
 * neither the position of a differing byte nor the length of a guess shows in the timing.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** True when an Authorization header is `Bearer <secret>` (scheme case-insensitive). */
export function bearerMatches(authorization: string | null, secret: string): boolean {
  const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "")?.[1];
  return presented !== undefined && secretsEqual(presented, secret);
}
