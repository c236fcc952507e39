/**
 * A create whose Idempotency-Key claim was taken over before its credits were reserved (its lease
 * ended while it was still getting ready: a slow source image, a slow store): the request now
 * holding the key answers for it. Reserving anyway would make a second job for one key — the
 * holder finds no job on its claim and makes its own, and both are charged.
 */
import { eq } from "drizzle-orm";
import { afterEach, expect, it } from "vitest";
import { AccountRegistry, balance } from "@/lib/credits";
import { generations as generationsTable } from "@/lib/db";
import { tryClaimIdempotencyKey } from "@/lib/db/idempotency";
import { GenerationService, JobEvents } from "@/lib/generation";
import { createLogger } from "@/lib/observability/logger";
import { problemOf } from "@/lib/problem";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider } from "../../helpers/fakeProvider";

const INITIAL = 10;

describeEachDatabase("a create whose idempotency claim was taken over", (getDb) => {
  const events = new JobEvents();
  afterEach(() => events.close());

  it("reserves and sends nothing, for a batch as for one job: 409, the key's new holder answers", async () => {
    const { db } = getDb();
    const provider = createFakeProvider();
    const accounts = new AccountRegistry(db, { initialCredits: INITIAL });
    const service = new GenerationService({
      db,
      provider,
      events,
      logger: createLogger({ level: "silent" }),
      accounts,
      settings: {
        costPerGeneration: 1,
        textModel: "google/nano-banana",
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 5_000,
        jobTimeoutMs: 60_000,
        notifyAcrossInstances: false,
      },
    });
    await accounts.ensure("user-lost");
    const claim = (now?: Date) =>
      tryClaimIdempotencyKey(db, { userId: "user-lost", key: "k", fingerprint: "fp", leaseMs: 1_000, now });
    const stale = await claim(new Date(Date.now() - 60_000));
    const holder = await claim();
    expect(stale.outcome).toBe("claimed");
    expect(holder.outcome).toBe("claimed");

    for (const count of [1, 3]) {
      const refused = await service
        .create({
          userId: "user-lost",
          request: { prompt: "a banana" },
          files: [],
          count,
          mode: "async",
          requestId: "req-lost",
          idempotencyClaim: { key: "k", claimToken: (stale as { claimToken: string }).claimToken },
        })
        .catch((error: unknown) => error);
      expect(problemOf(refused)?.code, String(refused)).toBe("idempotency_key_in_progress");
    }
    expect(provider.created).toHaveLength(0);
    expect(await balance(db, "user-lost")).toBe(INITIAL);
    const rows = await db.select().from(generationsTable).where(eq(generationsTable.userId, "user-lost"));
    expect(rows).toHaveLength(0);
  });
});
