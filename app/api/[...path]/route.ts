import { route } from "@/app/_lib/route";
import { ApiError } from "@/lib/http/errors";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Unknown API paths answer in the API's own error shape, not with an HTML page. */
const notFound = route("api.unknown", async () => {
  throw new ApiError("not_found", "No such API endpoint.");
});

export { notFound as DELETE, notFound as GET, notFound as PATCH, notFound as POST, notFound as PUT };
