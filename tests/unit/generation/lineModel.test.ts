/**
 * A job in line runs on the model it was priced for (issue 26 review): a request that names no
 * model is priced on KIE_MODEL where it arrives, and must be sent on that model by whichever
 * instance drains it — not on the draining instance's KIE_MODEL (a rolling config change, or a
 * restart with another KIE_MODEL, would otherwise sell nano-banana-pro at nano-banana's price).
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { AccountRegistry } from "@/lib/credits";
import { findGeneration } from "@/lib/db/generations";
import { GenerationService, JobEvents } from "@/lib/generation";
import { createLogger } from "@/lib/observability/logger";
import { describeEachDatabase } from "../../helpers/database";
import { createFakeProvider, type FakeProvider } from "../../helpers/fakeProvider";
import { createTestBudget, type TestBudget } from "../../helpers/testBudget";

describeEachDatabase("a queued job keeps its priced model", (getDb) => {
  let provider: FakeProvider;
  let budget: TestBudget;
  let events: JobEvents;
  const services: GenerationService[] = [];

  beforeEach(() => {
    provider = createFakeProvider();
    budget = createTestBudget(0);
    events = new JobEvents();
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.close()));
    events.close();
  });

  function instance(textModel: string) {
    const db = getDb().db;
    const created = new GenerationService({
      db,
      provider,
      budget,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: 100 }),
      settings: {
        costPerGeneration: 1,
        modelCredits: { "nano-banana": 1, "nano-banana-pro": 18 },
        textModel,
        editModel: "google/nano-banana-edit",
        pollBudgetMs: 5_000,
        jobTimeoutMs: 60_000,
        notifyAcrossInstances: false,
        createRate: { limit: 20, windowMs: 10_000 },
      },
    });
    services.push(created);
    return created;
  }

  it("queued on an instance whose KIE_MODEL is nano-banana, drained by one whose KIE_MODEL is Pro: sent as nano-banana", async () => {
    const first = instance("google/nano-banana");
    const accepted = await first.create({
      userId: "u1",
      request: { prompt: "no model named" },
      files: [],
      mode: "async",
      requestId: "req-1",
    });
    expect(accepted).toMatchObject({ outcome: "accepted", remainingCredits: 99 });
    const row = await findGeneration(getDb().db, accepted.job.taskId);
    expect(row).toMatchObject({ status: "queued", cost: 1, model: "google/nano-banana" });
    await first.close();

    const second = instance("nano-banana-pro");
    budget.give(1);
    second.wakeLine(); // as its start-up or the reconciler's sweep does
    const deadline = Date.now() + 15_000;
    while (provider.created.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(provider.created).toHaveLength(1);
    expect(provider.created[0]?.model).toMatchObject({
      kieModel: "google/nano-banana",
      model: { id: "nano-banana" },
    });
  });
});
