/**
 * Errors of lib/security: upload validation and the image proxy. Each names its public code
 * (DESIGN.md §3) and is answered with its own message (`toProblem`, lib/problem.ts). Messages are written for the user: they carry limits and
 * detected types, never the URL, the resolved address or the file's bytes (those go in fields for
 * the log).
 *
 * This file imports nothing heavy (no sharp, file-type or undici): the HTTP error table, which
 * every route loads, imports it directly.
 */

import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";

export type SecurityErrorCode =
  | "invalid_request"
  | "file_too_large"
  | "unsupported_media_type"
  | "upstream_error";

export abstract class SecurityError extends Error implements HasProblem {
  /** The public error code this maps to. */
  abstract readonly code: SecurityErrorCode;
  /** A refused proxy URL may be someone probing for SSRF; a host failing us is worth a look too. */
  protected readonly logLevel: Problem["logLevel"] = "info";

  toProblem(): Problem {
    return { code: this.code, message: this.message, logLevel: this.logLevel };
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

/** A file (or a data URI's decoded bytes) is over the upload limit. → 413 file_too_large */
export class FileTooLargeError extends SecurityError {
  readonly code = "file_too_large" as const;

  constructor(
    readonly maxBytes: number,
    /** The size, when known without reading everything (a Blob's size, a data URI's length). */
    readonly size?: number,
  ) {
    super(`A file is larger than the ${formatBytes(maxBytes)} upload limit.`);
    this.name = "FileTooLargeError";
  }
}

export type UnsupportedMediaReason =
  /** The magic bytes match no known type (text, SVG, HTML, an empty file…). */
  | "unrecognized"
  /** A known type that is not accepted (GIF, PDF, AVIF…). */
  | "not_allowed"
  /** A data URI whose declared type differs from its bytes. */
  | "type_mismatch"
  /** The magic bytes say PNG/JPEG/WebP, but the header cannot be read (truncated, corrupt). */
  | "corrupt";

/** Not a PNG, JPEG or WebP image by its bytes. → 415 unsupported_media_type */
export class UnsupportedMediaTypeError extends SecurityError {
  readonly code = "unsupported_media_type" as const;

  constructor(
    readonly reason: UnsupportedMediaReason,
    readonly detail: { detectedType?: string; declaredType?: string } = {},
  ) {
    super(unsupportedMessage(reason, detail));
    this.name = "UnsupportedMediaTypeError";
  }
}

function unsupportedMessage(
  reason: UnsupportedMediaReason,
  { detectedType, declaredType }: { detectedType?: string; declaredType?: string },
): string {
  switch (reason) {
    case "not_allowed":
      // iPhone photos: say what to do (the studio converts them; sharp here cannot decode HEVC).
      if (detectedType === "image/heic" || detectedType === "image/heif") {
        return "HEIC/HEIF photos cannot be read here: send the image as JPEG, PNG or WebP (the studio converts it for you).";
      }
      return `Only PNG, JPEG and WebP images are accepted${detectedType ? ` (this is ${detectedType})` : ""}.`;
    case "type_mismatch":
      return `The data URI declares ${declaredType ?? "one type"} but contains ${detectedType ?? "another"}.`;
    case "corrupt":
      return "The image could not be read: its header is truncated or corrupt.";
    default:
      return "Only PNG, JPEG and WebP images are accepted; this is not one of them.";
  }
}

/** Width × height over the pixel limit (a decompression bomb). → 400 invalid_request */
export class ImageTooManyPixelsError extends SecurityError {
  readonly code = "invalid_request" as const;

  constructor(
    readonly maxPixels: number,
    readonly width?: number,
    readonly height?: number,
  ) {
    super(
      `The image is too large${width && height ? ` (${width}×${height})` : ""}: ` +
        `at most ${(maxPixels / 1_000_000).toLocaleString("en-US")} megapixels are accepted.`,
    );
    this.name = "ImageTooManyPixelsError";
  }
}

/** More reference images than a generation accepts. → 400 invalid_request */
export class TooManyImagesError extends SecurityError {
  readonly code = "invalid_request" as const;

  constructor(
    readonly count: number,
    readonly max: number,
  ) {
    super(`At most ${max} images are accepted; ${count} were sent.`);
    this.name = "TooManyImagesError";
  }
}

export type InvalidDataUriReason = "not_data_uri" | "not_base64" | "bad_base64";

/** `images: ["data:…"]` that is not a base64 data URI. → 400 invalid_request */
export class InvalidDataUriError extends SecurityError {
  readonly code = "invalid_request" as const;

  constructor(readonly reason: InvalidDataUriReason) {
    super(
      reason === "not_base64"
        ? "An image data URI must be base64-encoded (data:image/png;base64,…)."
        : reason === "bad_base64"
          ? "An image data URI contains invalid base64."
          : "An image must be an https URL or a data:image/…;base64,… URI.",
    );
    this.name = "InvalidDataUriError";
  }
}

export type UnsafeUrlReason =
  | "too_long"
  | "malformed"
  /** Not https (and not the trusted simulator origin). */
  | "scheme"
  | "credentials"
  /** A literal IP address, in any encoding. */
  | "ip_literal"
  | "host_not_allowed"
  /** Refused at connect time: the name resolved to a loopback, private, link-local or reserved address. */
  | "forbidden_address";

const UNSAFE_URL_MESSAGES: Record<UnsafeUrlReason, string> = {
  too_long: "The image URL is too long (at most 2048 characters).",
  malformed: "The image URL is not a valid URL.",
  scheme: "The image URL must use https.",
  credentials: "The image URL must not contain a user name or password.",
  ip_literal: "The image URL must name a host, not an IP address.",
  host_not_allowed: "The image URL's host is not on the list of allowed image hosts.",
  forbidden_address: "The image URL's host resolves to a private or reserved network address.",
};

/** The proxy refused a URL (or a redirect, or a resolved address). → 400 invalid_request */
export class UnsafeUrlError extends SecurityError {
  readonly code = "invalid_request" as const;
  protected override readonly logLevel = "warn";

  constructor(
    readonly reason: UnsafeUrlReason,
    /** For the operator's log: the host, the resolved address. Not shown to the user. */
    readonly detail?: string,
  ) {
    super(UNSAFE_URL_MESSAGES[reason]);
    this.name = "UnsafeUrlError";
  }
}

export type ProxyUpstreamReason =
  /** The host answered a non-2xx status. */
  | "status"
  | "network"
  | "timeout"
  /** Over the byte cap (by Content-Length, or while streaming). */
  | "too_large"
  | "too_many_redirects"
  /** A redirect status without a usable Location. */
  | "bad_redirect";

const PROXY_UPSTREAM_MESSAGES: Record<ProxyUpstreamReason, string> = {
  status: "The image could not be fetched from its host.",
  network: "The image host could not be reached.",
  timeout: "The image host took too long to answer.",
  too_large: "The image is larger than the proxy accepts.",
  too_many_redirects: "The image host redirected too many times.",
  bad_redirect: "The image host answered with an invalid redirect.",
};

/** The image host failed us. → 502 upstream_error */
export class ProxyUpstreamError extends SecurityError {
  readonly code = "upstream_error" as const;
  protected override readonly logLevel = "warn";
  /** The upstream HTTP status, for reason "status". */
  readonly status?: number;
  /** For the operator's log (e.g. the redirect target). Not shown to the user. */
  readonly detail?: string;

  constructor(
    readonly reason: ProxyUpstreamReason,
    extras: { status?: number; cause?: unknown; detail?: string } = {},
  ) {
    super(
      reason === "status" && extras.status !== undefined
        ? `The image could not be fetched from its host (HTTP ${extras.status}).`
        : PROXY_UPSTREAM_MESSAGES[reason],
      extras.cause === undefined ? undefined : { cause: extras.cause },
    );
    this.name = "ProxyUpstreamError";
    this.status = extras.status;
    this.detail = extras.detail;
  }
}

brand(SecurityError, "security.SecurityError");
brand(FileTooLargeError, "security.FileTooLargeError");
brand(UnsupportedMediaTypeError, "security.UnsupportedMediaTypeError");
brand(ImageTooManyPixelsError, "security.ImageTooManyPixelsError");
brand(TooManyImagesError, "security.TooManyImagesError");
brand(InvalidDataUriError, "security.InvalidDataUriError");
brand(UnsafeUrlError, "security.UnsafeUrlError");
brand(ProxyUpstreamError, "security.ProxyUpstreamError");
