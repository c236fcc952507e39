/**
 * Signed, expiring links to a stored image (DESIGN.md §9), so an `<img>` works without headers:
 * `/api/images/<id>?variant=thumb&expires=<unix s>&sig=<HMAC-SHA256>`. The signature binds the
 * id, the variant and the expiry; the expiry is rounded up to the hour, so a job's link stays the
 * same for an hour and the browser's cache keeps working across page loads — for as long as the
 * link lives, and no longer (the answer's max-age is the link's remaining life).
 */
import { createHmac } from "node:crypto";
import { secretsEqual } from "@/lib/security/secrets";

export const IMAGE_VARIANTS = ["original", "thumb"] as const;
export type ImageVariant = (typeof IMAGE_VARIANTS)[number];

export const IMAGE_ROUTE = "/api/images";
/** A link is valid at least this long… */
export const DEFAULT_LINK_TTL_SECONDS = 24 * 3600;
/** …and at most this much longer (the rounding that keeps it stable). */
const ROUNDING_SECONDS = 3600;

export type LinkVerdict = "valid" | "expired" | "invalid";

export interface ImageLinksOptions {
  /** APP_URL: links are absolute on it; without it they are relative to this app's origin. */
  baseUrl?: string;
  ttlSeconds?: number;
  now?: () => number;
}

export class ImageLinks {
  private readonly baseUrl: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly secret: Uint8Array,
    options: ImageLinksOptions = {},
  ) {
    if (secret.byteLength < 32) throw new TypeError("the image link secret must be at least 32 bytes");
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_LINK_TTL_SECONDS;
    this.now = options.now ?? Date.now;
  }

  /** A signed link to a job's image (`id` is the job's UUID). */
  url(id: string, variant: ImageVariant = "original"): string {
    const nowSeconds = Math.floor(this.now() / 1000);
    const expires = Math.ceil((nowSeconds + this.ttlSeconds) / ROUNDING_SECONDS) * ROUNDING_SECONDS;
    const query = new URLSearchParams();
    if (variant !== "original") query.set("variant", variant);
    query.set("expires", String(expires));
    query.set("sig", this.sign(id, variant, expires));
    return `${this.baseUrl}${IMAGE_ROUTE}/${encodeURIComponent(id)}?${query}`;
  }

  verify(id: string, variant: ImageVariant, expires: string | null, sig: string | null): LinkVerdict {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return "invalid";
    if (!secretsEqual(sig, this.sign(id, variant, Number(expires)))) return "invalid";
    return Number(expires) * 1000 <= this.now() ? "expired" : "valid";
  }

  /** Seconds until a (verified) link's `expires`, never below 0: how long an answer to it may be cached. */
  secondsLeft(expires: string | null): number {
    return Math.max(0, Number(expires) - Math.ceil(this.now() / 1000));
  }

  private sign(id: string, variant: ImageVariant, expires: number): string {
    return createHmac("sha256", this.secret).update(`${id}\n${variant}\n${expires}`).digest("base64url");
  }
}
