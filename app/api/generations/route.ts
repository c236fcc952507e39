import { route } from "@/app/_lib/route";
import { decodeCursor, encodeCursor } from "@/lib/http/cursor";
import { ApiError } from "@/lib/http/errors";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/** The signed-in user's jobs, newest first, a page at a time (`?cursor=` from `nextCursor`). */
export const GET = route("generations.list", async ({ request, app }) => {
  const user = await app.auth.authenticate(request);
  const query = new URL(request.url).searchParams;
  const cursorParam = query.get("cursor");
  const cursor = cursorParam ? decodeCursor(cursorParam) : undefined;
  const limitParam = query.get("limit");
  const limit = limitParam === null ? DEFAULT_PAGE_SIZE : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new ApiError("invalid_request", `limit must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
  }
  const page = await app.generations.list(user.id, { limit, cursor });
  return json({
    success: true,
    generations: page.jobs,
    nextCursor: page.next ? encodeCursor(page.next) : null,
  });
});
