import { route } from "@/app/_lib/route";
import type { App } from "@/lib/app";
import type { ImageAccess } from "@/lib/generation/images";
import { ApiError } from "@/lib/http/errors";
import { IMAGE_VARIANTS, type ImageVariant } from "@/lib/storage/links";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/images/:id[?variant=thumb][&download=1] — a job's image (DESIGN.md §9), for its owner
 * (cookie or bearer) or the holder of a signed link (`expires` + `sig`, from `imageUrl`). Someone
 * else's image is 404, like an unknown one; a tampered or expired link is 403.
 */
export const GET = route<{ id: string }>("images", async ({ request, app, params }) => {
  const query = new URL(request.url).searchParams;
  const variant = parseVariant(query.get("variant"));
  const download = query.get("download");
  if (download !== null && download !== "1" && download !== "0") {
    throw new ApiError("invalid_request", "download must be 1 or 0.");
  }
  const access = await accessOf(request, app, params.id, variant, query);
  const image = await app.images.open(params.id, variant, access, request.signal);
  if (!image) throw new ApiError("not_found", "No such image.");

  const headers = new Headers({
    "Content-Type": image.contentType,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": access.kind === "link" ? "cross-origin" : "same-origin",
    "Content-Disposition": download === "1" ? `attachment; filename="${image.downloadName}"` : "inline",
    "Cache-Control": cacheControl(app, access, image.etag !== undefined, query.get("expires")),
  });
  if (image.etag) {
    const etag = `"${image.etag}"`;
    headers.set("ETag", etag);
    if (matchesEtag(request.headers.get("if-none-match"), etag)) {
      await image.body.cancel().catch(() => {});
      return new Response(null, { status: 304, headers });
    }
  }
  if (image.size !== undefined) headers.set("Content-Length", String(image.size));
  return new Response(image.body, { status: 200, headers });
});

/**
 * Ours never change (a new image is a new job), but access to them does: a signed link's answer
 * is cached no longer than the link lives, and one authorised by a cookie or bearer token is not
 * kept at all — on a shared device it would outlive sign-out and deletion. One still on KIE's URL
 * is not ours yet.
 */
function cacheControl(app: App, access: ImageAccess, stored: boolean, expires: string | null): string {
  if (!stored) return "private, no-cache";
  if (access.kind !== "link") return "private, no-store";
  return `private, max-age=${app.imageLinks.secondsLeft(expires)}, immutable`;
}

function parseVariant(value: string | null): ImageVariant {
  if (value === null) return "original";
  if ((IMAGE_VARIANTS as readonly string[]).includes(value)) return value as ImageVariant;
  throw new ApiError("invalid_request", `variant must be one of: ${IMAGE_VARIANTS.join(", ")}.`);
}

/** A signed link decides alone when it is there (a bad one is 403 even with a session); else sign-in. */
async function accessOf(
  request: Request,
  app: App,
  id: string,
  variant: ImageVariant,
  query: URLSearchParams,
): Promise<ImageAccess> {
  if (query.has("sig") || query.has("expires")) {
    const verdict = app.imageLinks.verify(
      id,
      variant,
      query.get("expires"),
      query.get("sig"),
      query.get("kid"),
    );
    if (verdict === "expired") throw new ApiError("forbidden", "This image link has expired.");
    if (verdict !== "valid") throw new ApiError("forbidden", "This image link is not valid.");
    return { kind: "link" };
  }
  const user = await app.auth.authenticate(request);
  return { kind: "user", userId: user.id };
}

function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed === etag || trimmed === `W/${etag}`;
  });
}
