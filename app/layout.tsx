import type { Metadata, Viewport } from "next";
import { headers } from "next/headers";
import type { ReactNode } from "react";
import { Providers } from "@/components/providers";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Nano Banana Studio", template: "%s · Nano Banana Studio" },
  description: "Generate and edit images with Nano Banana (Gemini 2.5 Flash Image).",
};

export const viewport: Viewport = {
  themeColor: [
    { media: "(prefers-color-scheme: light)", color: "#fdfcf7" },
    { media: "(prefers-color-scheme: dark)", color: "#1c1a16" },
  ],
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // The CSP's per-request nonce (set by proxy.ts): next-themes' anti-flash script must carry it.
  const nonce = (await headers()).get("x-nonce") ?? undefined;
  return (
    <html lang="en" suppressHydrationWarning>
      <body className="min-h-dvh">
        <Providers nonce={nonce}>{children}</Providers>
      </body>
    </html>
  );
}
