import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // PGlite, sharp and pino load native/wasm assets by path: bundling them breaks at run time.
  serverExternalPackages: ["@electric-sql/pglite", "sharp", "pino", "pino-pretty", "pg", "ioredis"],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
