/**
 * Signed, expiring links to a stored image (DESIGN.md §9), so an `<img>` works without headers:
 * `/api/images/<id>?variant=thumb&expires=<unix s>&kid=<key id>&sig=<HMAC-SHA256>`. The signature
 * binds the id, the variant and the expiry; `kid` names the key (a hash of it, never the key), so
 * IMAGE_URL_SECRET can be rotated while the previous one still verifies the links already out; the expiry is rounded up to the hour, so a job's link stays the
 * same for an hour and the browser's cache keeps working across page loads — for as long as the
 * link lives, and no longer (the answer's max-age is the link's remaining life).
 */
import { createHash, createHmac } from "node:crypto";
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
  /** Earlier secrets (IMAGE_URL_SECRET_PREVIOUS): their links still verify, new ones use `secret`. */
  previousSecrets?: Uint8Array[];
}

/** The public name of a key: a domain-separated hash, so a link reveals nothing of the key. */
function keyId(secret: Uint8Array): string {
  return createHash("sha256")
    .update("nano-banana image link key\n")
    .update(secret)
    .digest("base64url")
    .slice(0, 12);
}

export class ImageLinks {
  private readonly baseUrl: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;
  private readonly kid: string;
  /** Every key that verifies, by its id: the current one and the previous ones. */
  private readonly keys: Map<string, Uint8Array>;

  constructor(
    private readonly secret: Uint8Array,
    options: ImageLinksOptions = {},
  ) {
    for (const key of [secret, ...(options.previousSecrets ?? [])]) {
      if (key.byteLength < 32) throw new TypeError("the image link secret must be at least 32 bytes");
    }
    this.kid = keyId(secret);
    this.keys = new Map([secret, ...(options.previousSecrets ?? [])].map((key) => [keyId(key), key]));
    this.keys.set(this.kid, secret);
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
    query.set("kid", this.kid);
    query.set("sig", this.sign(this.secret, id, variant, expires));
    return `${this.baseUrl}${IMAGE_ROUTE}/${encodeURIComponent(id)}?${query}`;
  }

  /** `kid` null: a link from before key ids, checked against the current key. */
  verify(
    id: string,
    variant: ImageVariant,
    expires: string | null,
    sig: string | null,
    kid: string | null = null,
  ): LinkVerdict {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return "invalid";
    const key = kid === null ? this.secret : this.keys.get(kid);
    if (!key || !secretsEqual(sig, this.sign(key, id, variant, Number(expires)))) return "invalid";
    return Number(expires) * 1000 <= this.now() ? "expired" : "valid";
  }

  /** Seconds until a (verified) link's `expires`, never below 0: how long an answer to it may be cached. */
  secondsLeft(expires: string | null): number {
    return Math.max(0, Number(expires) - Math.ceil(this.now() / 1000));
  }

  private sign(key: Uint8Array, id: string, variant: ImageVariant, expires: number): string {
    return createHmac("sha256", key).update(`${id}\n${variant}\n${expires}`).digest("base64url");
  }
}
