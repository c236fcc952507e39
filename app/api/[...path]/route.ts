import { ApiError } from "@/lib/http/errors";
import { route } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Unknown API paths answer in the API's own error shape, not with an HTML page. */
const notFound = route("api.unknown", async () => {
  throw new ApiError("not_found", "No such API endpoint.");
});

export { notFound as DELETE, notFound as GET, notFound as PATCH, notFound as POST, notFound as PUT };
