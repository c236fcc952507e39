import { route } from "@/app/_lib/route";
import { decodeCursor, encodeCursor } from "@/lib/http/cursor";
import { ApiError } from "@/lib/http/errors";
import { taskIdsParamSchema } from "@/lib/http/generationsQuery";
import { preferredWaitSeconds } from "@/lib/http/prefer";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

/**
 * The signed-in user's jobs, newest first, a page at a time (`?cursor=` from `nextCursor`); or,
 * with `?taskIds=`, those jobs only — one watch for all of a page's running jobs (`Prefer: wait`).
 */
export const GET = route("generations.list", async ({ request, app }) => {
  const user = await app.auth.authenticate(request);
  const query = new URL(request.url).searchParams;
  const taskIdsParam = query.get("taskIds");
  if (taskIdsParam !== null) {
    if (query.has("cursor") || query.has("limit")) {
      throw new ApiError("invalid_request", "taskIds cannot be combined with cursor or limit.");
    }
    const taskIds = taskIdsParamSchema.safeParse(taskIdsParam);
    if (!taskIds.success) {
      throw new ApiError("invalid_request", "taskIds must be 1 to 20 task ids, comma-separated.");
    }
    const waitSeconds = preferredWaitSeconds(request);
    const watched = await app.generations.getManyForUser(user.id, taskIds.data, {
      waitMs: (waitSeconds ?? 0) * 1000,
      signal: request.signal,
    });
    const headers: Record<string, string> =
      waitSeconds === undefined ? {} : { "Preference-Applied": `wait=${waitSeconds}` };
    return json(
      {
        success: true,
        generations: watched.jobs,
        nextCursor: null,
        notFound: watched.notFound,
        remainingCredits: watched.remainingCredits,
      },
      200,
      headers,
    );
  }
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
