import { type RouteContext, route } from "@/app/_lib/route";
import type { App } from "@/lib/app";
import type { ImageAccess, ImageFile } from "@/lib/generation/images";
import { ApiError } from "@/lib/http/errors";
import { requestedRange } from "@/lib/http/range";
import { errorResponse } from "@/lib/http/route";
import { IMAGE_VARIANTS, type ImageVariant } from "@/lib/storage/links";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * GET /api/images/:id[?variant=thumb][&download=1] — a job's image (DESIGN.md §9), for its owner
 * (cookie or bearer) or the holder of a signed link (`expires` + `sig`, from `imageUrl`). Someone
 * else's image is 404, like an unknown one; a tampered or expired link is 403. With the S3 store
 * the answer is a 302 to a presigned URL (S3_PRESIGNED_REDIRECT), decided after those checks;
 * otherwise the bytes, with ETag/304 and one byte range (206/416) where the store serves ranges.
 * HEAD is this answer without its body (next start runs GET for it; the route wrapper lets the
 * body go).
 */
export const GET = route<{ id: string }>("images", serveImage);

async function serveImage({
  request,
  requestId,
  app,
  params,
}: RouteContext<{ id: string }>): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const variant = parseVariant(query.get("variant"));
  const download = query.get("download");
  if (download !== null && download !== "1" && download !== "0") {
    throw new ApiError("invalid_request", "download must be 1 or 0.");
  }
  const access = await accessOf(request, app, params.id, variant, query);
  const image = await app.images.serve(params.id, variant, access, {
    signal: request.signal,
    download: download === "1",
    range: requestedRange(request.headers.get("range")),
    ifRange: request.headers.get("if-range"),
  });
  if (!image) throw new ApiError("not_found", "No such image.");
  if (image.kind === "redirect") {
    // The URL is the store's, for a key the app chose: nothing of the request is in it.
    return new Response(null, {
      status: 302,
      headers: { Location: image.url, "Cache-Control": image.cacheControl },
    });
  }

  const headers = new Headers({
    "Content-Type": image.contentType,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": access.kind === "link" ? "cross-origin" : "same-origin",
    "Content-Disposition": download === "1" ? `attachment; filename="${image.downloadName}"` : "inline",
    "Cache-Control": cacheControl(app, access, image.etag !== undefined),
  });
  if (image.ranges) headers.set("Accept-Ranges", "bytes");
  if (image.etag) {
    const etag = `"${image.etag}"`;
    headers.set("ETag", etag);
    if (matchesEtag(request.headers.get("if-none-match"), etag)) {
      return withoutBody(image, new Response(null, { status: 304, headers }));
    }
  }
  if (image.range === "unsatisfiable") {
    const refused = errorResponse(new ApiError("range_not_satisfiable"), requestId);
    refused.headers.set("Content-Range", `bytes */${image.size}`);
    return withoutBody(image, refused);
  }
  if (image.range) {
    const { start, end } = image.range;
    headers.set("Content-Range", `bytes ${start}-${end}/${image.size}`);
    headers.set("Content-Length", String(end - start + 1));
    return new Response(image.body, { status: 206, headers });
  }
  if (image.size !== undefined) headers.set("Content-Length", String(image.size));
  return new Response(image.body, { status: 200, headers });
}

/** An answer without the image's bytes: the open file (or upstream read) is let go first. */
async function withoutBody(image: ImageFile, response: Response): Promise<Response> {
  await image.body.cancel().catch(() => {});
  return response;
}

/**
 * Ours never change (a new image is a new job), but access to them does: a signed link's answer
 * is cached no longer than the link lives, and one authorised by a cookie or bearer token is not
 * kept at all — on a shared device it would outlive sign-out and deletion. One still on KIE's URL
 * is not ours yet.
 */
function cacheControl(app: App, access: ImageAccess, stored: boolean): string {
  if (!stored) return "private, no-cache";
  if (access.kind !== "link") return "private, no-store";
  return `private, max-age=${app.imageLinks.secondsLeft(String(access.expires))}, immutable`;
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
    const expires = query.get("expires");
    const verdict = app.imageLinks.verify(id, variant, expires, query.get("sig"), query.get("kid"));
    if (verdict === "expired") throw new ApiError("forbidden", "This image link has expired.");
    if (verdict !== "valid") throw new ApiError("forbidden", "This image link is not valid.");
    return { kind: "link", expires: Number(expires) };
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
