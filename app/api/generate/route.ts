import { route } from "@/app/_lib/route";
import { storedReferencesOf } from "@/lib/generation/references";
import { editSourceOf } from "@/lib/generation/source";
import { parseGenerateRequest } from "@/lib/http/generateRequest";
import { generationResponse, responseMode } from "@/lib/http/generateResponse";
import { idempotencyKeyFrom, idempotencyLeaseMs, withIdempotency } from "@/lib/http/idempotency";
import { clientIp } from "@/lib/http/rateLimit";
import { DEFAULT_MAX_PIXELS } from "@/lib/security/fileValidation";
import { spoolDirOf } from "@/lib/storage";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Generate or edit an image (DESIGN.md §3). Every step that can refuse the request runs before
 * credits are reserved and before anything reaches KIE; lib/generation does the rest.
 */
export const POST = route("generate", async ({ request, app, requestId, log }) => {
  const { config, rateLimiter } = app;
  await rateLimiter.consumeIp(clientIp(request, config.trustedProxyHops)); // 429 per IP, even before sign-in
  const user = await app.auth.authenticate(request); // 401
  await app.accounts.ensure(user.id, user.email); // a new user gets CREDITS_INITIAL, once
  const idempotencyKey = idempotencyKeyFrom(request); // 400 if malformed
  // 429 before a byte of the body is read. With a key, a replay of a finished request still gets
  // its answer: the key's record is found by the body's fingerprint, so it is checked there.
  if (!idempotencyKey) await rateLimiter.checkUser(user.id);
  // One of the user's uploads while the body is read: 429 / 503 beyond the caps (nothing charged).
  const input = await app.uploads.admit(user.id, request, () =>
    parseGenerateRequest(request, {
      maxUploadBytes: config.maxUploadBytes,
      maxPixels: DEFAULT_MAX_PIXELS,
      models: { textModel: config.kie.model, editModel: config.kie.editModel },
      spoolDir: spoolDirOf(config.dataDir, "uploads"),
      idleTimeoutMs: config.uploads.idleTimeoutMs,
    }),
  ); // 400 / 408 / 413 / 415

  try {
    // Awaited here, not returned: the finally below must wait for the files to be used.
    return await withIdempotency(
      {
        db: app.database.db,
        userId: user.id,
        key: idempotencyKey,
        fingerprint: input.fingerprint,
        requestId,
        log,
        leaseMs: idempotencyLeaseMs(config.kie),
      },
      async (claim) => {
        const mode = responseMode(request, config.kie.useAsync);
        if (claim?.generationId) {
          // An earlier attempt of this very request created the job, then stopped: answer from it.
          const resumed = await app.generations.resume(user.id, claim.generationId, {
            mode,
            signal: request.signal,
          });
          if (resumed) return generationResponse(resumed);
        }
        await rateLimiter.checkUser(user.id); // 429 once this minute's generations are used up (replays pass)
        // sourceTaskId: the user's own result is the first image (404 / 400 before anything is charged).
        const source = input.request.sourceTaskId
          ? await editSourceOf(app, user.id, input.request.sourceTaskId, {
              maxBytes: config.maxUploadBytes,
              maxPixels: DEFAULT_MAX_PIXELS,
              signal: request.signal,
            })
          : undefined;
        // referenceImageIds: earlier uploads from our store (404 / 400 before anything is charged).
        const referenced = await storedReferencesOf(app, user.id, input.referenceImageIds, {
          maxBytes: config.maxUploadBytes,
          maxPixels: DEFAULT_MAX_PIXELS,
        });
        return generationResponse(
          await app.generations.create({
            userId: user.id,
            email: user.email,
            request: input.request,
            count: input.count,
            files: [...(source ? [source.file] : []), ...referenced, ...input.files],
            parent: source && { id: source.parentId, taskId: source.parentTaskId },
            retainFiles: input.retain,
            mode,
            requestId,
            signal: request.signal,
            idempotencyKey,
            idempotencyClaim: claim && { key: claim.key, claimToken: claim.claimToken },
            // Counted once the credits are reserved (each image of a batch): refused and unpaid
            // requests use no quota.
            admit: (count) => rateLimiter.consumeUser(user.id, count),
          }),
        );
      },
    );
  } finally {
    // The request's own hold on the spooled uploads; readers still running (an upload, the
    // background copy of the inputs) hold theirs, and the last one out removes the files.
    await input.dispose();
  }
});
