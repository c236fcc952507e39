import type { NextConfig } from "next";
import { STATIC_SECURITY_HEADERS } from "./lib/http/securityHeaders";

const nextConfig: NextConfig = {
  // PGlite, sharp and pino load native/wasm assets by path: bundling them breaks at run time.
  // rate-limiter-flexible's RateLimiterDrizzle imports drizzle-orm by a computed name, which only
  // Node's own loader resolves.
  serverExternalPackages: [
    "@electric-sql/pglite",
    "sharp",
    "pino",
    "pino-pretty",
    "pg",
    "ioredis",
    "rate-limiter-flexible",
  ],
  poweredByHeader: false,
  reactStrictMode: true,
  // DESIGN.md §6: every answer, including those proxy.ts never sees.
  async headers() {
    const headers = Object.entries(STATIC_SECURITY_HEADERS).map(([key, value]) => ({ key, value }));
    return [{ source: "/:path*", headers }];
  },
};

export default nextConfig;
