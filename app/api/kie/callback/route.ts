import { after } from "next/server";
import { z } from "zod";
import { route } from "@/app/_lib/route";
import { readJson } from "@/lib/http/body";
import { ApiError } from "@/lib/http/errors";
import { json } from "@/lib/http/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const REFUSALS = {
  not_found: ["not_found", "No such job."],
  forbidden: ["forbidden", "The callback token does not match."],
  bad_signature: ["unauthorized", "The webhook signature is missing, stale or wrong."],
  bad_body: ["invalid_request", "The body is not a KIE callback."],
  wrong_task: ["forbidden", "The callback names another task than this job's."],
} as const;

/**
 * KIE's completion callback (DESIGN.md §5). Checked (the job and its token before a byte of the
 * body is read, then the optional HMAC) and answered
 * at once; the job is then settled from a fresh read of the task, never from this body.
 */
export const POST = route("kie.callback", async ({ request, app, requestId, log }) => {
  const query = new URL(request.url).searchParams;
  const verdict = await app.generations.verifyCallback({
    jobId: query.get("job"),
    token: query.get("token"),
    readBody: () => readJson(request, z.unknown(), { maxBytes: 256 * 1024, anyMediaType: true }),
    timestamp: request.headers.get("x-webhook-timestamp"),
    signature: request.headers.get("x-webhook-signature"),
    requestId,
  });
  if (!verdict.accepted) {
    const [code, message] = REFUSALS[verdict.reason];
    log.warn({ reason: verdict.reason }, "callback refused");
    throw new ApiError(code, message);
  }
  const work = () =>
    verdict.process().catch((error) => log.error({ err: error }, "callback processing failed"));
  try {
    after(work); // keeps a serverless instance alive until the job is settled
  } catch {
    void work(); // outside a Next.js request scope (the handler driven directly)
  }
  return json({ success: true });
});
