/**
 * Result images are shown from our own origin (the page's CSP allows img-src 'self'): a relative or
 * same-origin URL is used as it is, anything else goes through /api/image-proxy.
 */
export function displayUrl(imageUrl: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(imageUrl, origin);
  } catch {
    return imageUrl;
  }
  // Our own stored images (/api/images/:id, DESIGN.md §9) are served by this app whatever host
  // name APP_URL gave them; the proxy would refuse them.
  if (url.origin === origin || url.pathname.startsWith("/api/images/")) return `${url.pathname}${url.search}`;
  return `/api/image-proxy?url=${encodeURIComponent(url.href)}`;
}

/** "a banana astronaut, 35mm" → "a-banana-astronaut-35mm.png": a file name a person recognises. */
export function downloadName(prompt: string, format: string | undefined): string {
  const extension = format === "jpeg" || format === "jpg" ? "jpg" : "png";
  const slug = prompt
    .replace(/\[sim:[^\]]*\]/g, " ")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  return `${slug || "nano-banana"}.${extension}`;
}

/** 1344 × 768 → "16:9" (the nearest offered ratio when the pixels are off by rounding). */
export function ratioLabel(width: number, height: number, ratios: readonly string[]): string {
  if (!(width > 0 && height > 0)) return "";
  const actual = width / height;
  let best = "";
  let bestError = Number.POSITIVE_INFINITY;
  for (const ratio of ratios) {
    const [w, h] = ratio.split(":").map(Number);
    if (!w || !h) continue;
    const error = Math.abs(Math.log(actual / (w / h)));
    if (error < bestError) {
      best = ratio;
      bestError = error;
    }
  }
  return bestError < 0.03 ? best : `${width}:${height}`;
}
