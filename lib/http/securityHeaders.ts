/**
 * Response headers of DESIGN.md §6: a Content-Security-Policy with a per-request nonce on every
 * HTML page (set by proxy.ts), nosniff on everything, HSTS when the app is served over https.
 * Pure functions, so the policy is tested without a server.
 */

export interface PagePolicyOptions {
  /** Fresh per request; Next.js finds it in the request's CSP and puts it on its own scripts. */
  nonce: string;
  /** `next dev`: React rebuilds server error stacks with eval; never in a production build. */
  development: boolean;
  /** APP_URL; https turns on HSTS and upgrade-insecure-requests. */
  appUrl?: string;
  /** SUPABASE_URL; the browser talks to Supabase Auth directly when it is configured. */
  supabaseUrl?: string;
  /** Where `/api/images/:id` may redirect an `<img>` (the S3 store's presigned URLs). */
  imageOrigins?: string[];
}

/** 22 random bytes, base64: unguessable, and valid in a CSP source expression. */
export function createNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64");
}

export function contentSecurityPolicy(options: PagePolicyOptions): string {
  const https = isHttps(options.appUrl);
  const connect = ["'self'"];
  const supabase = originOf(options.supabaseUrl);
  if (supabase) connect.push(supabase);
  const directives = [
    "default-src 'self'",
    // 'strict-dynamic': scripts the nonced bootstrap loads are trusted, nothing else is.
    // 'wasm-unsafe-eval' compiles WebAssembly only (the HEIC converter, lib/ui/heic.ts), no eval().
    `script-src 'self' 'nonce-${options.nonce}' 'strict-dynamic' 'wasm-unsafe-eval'${options.development ? " 'unsafe-eval'" : ""}`,
    // React style={…} attributes are inline styles; a nonce cannot cover them.
    "style-src 'self' 'unsafe-inline'",
    ["img-src 'self' data: blob:", ...(options.imageOrigins ?? [])].join(" "),
    "font-src 'self' data:",
    `connect-src ${connect.join(" ")}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ];
  if (https) directives.push("upgrade-insecure-requests");
  return directives.join("; ");
}

/**
 * The headers that depend on nothing at run time. next.config.ts puts them on every answer the
 * server gives (static files, Next's own error pages, paths no proxy matcher reaches), so no path
 * is left without them; the proxy and the route wrapper set them again with the rest.
 */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  // The CSP's frame-ancestors 'none' says the same to browsers that read it; this reaches the rest.
  "X-Frame-Options": "DENY",
};

/** Headers every answer carries (pages and API alike). */
export function commonSecurityHeaders(appUrl: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { ...STATIC_SECURITY_HEADERS };
  if (isHttps(appUrl)) headers["Strict-Transport-Security"] = "max-age=31536000";
  return headers;
}

/** The headers of an HTML page answer. */
export function pageSecurityHeaders(options: PagePolicyOptions): Record<string, string> {
  return {
    ...commonSecurityHeaders(options.appUrl),
    "Content-Security-Policy": contentSecurityPolicy(options),
  };
}

function isHttps(url: string | undefined): boolean {
  return url?.startsWith("https://") ?? false;
}

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
