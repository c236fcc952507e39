/**
 * The set-up the line's tests share: a GenerationService on the fake provider and an in-memory
 * create budget (no tokens until the test gives some), over the database of describeEachDatabase.
 */
import { afterEach, beforeEach } from "vitest";
import { AccountRegistry } from "@/lib/credits";
import type { AppDatabase } from "@/lib/db/client";
import { GenerationService, JobEvents } from "@/lib/generation";
import { createLogger } from "@/lib/observability/logger";
import { createFakeProvider, type FakeProvider } from "../../helpers/fakeProvider";
import { createTestBudget, type TestBudget } from "../../helpers/testBudget";

export const INITIAL = 10;

export interface LineServiceOptions {
  queueMax?: number;
  jobTimeoutMs?: number;
  pollBudgetMs?: number;
  createTaskTimeoutMs?: number;
  appUrl?: string;
  db?: AppDatabase;
}

/** Waits (bounded) until `check` holds; fails the test with `what` otherwise. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const lineRequest = (userId: string, prompt = "a banana", mode: "async" | "sync" = "async") => ({
  userId,
  request: { prompt },
  files: [],
  mode,
  requestId: `req-${prompt}`,
});

/** Registers the hooks; the fields are fresh for each test. */
export function useLineServices(getDb: () => { db: AppDatabase }) {
  const kit = {
    provider: undefined as unknown as FakeProvider,
    budget: undefined as unknown as TestBudget,
    service,
  };
  let events: JobEvents;
  const services: GenerationService[] = [];

  beforeEach(() => {
    kit.provider = createFakeProvider();
    kit.budget = createTestBudget(0);
    events = new JobEvents();
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((created) => created.close()));
    events.close();
  });

  function service(options: LineServiceOptions = {}) {
    const db = options.db ?? getDb().db;
    const created = new GenerationService({
      db,
      provider: kit.provider,
      budget: kit.budget,
      events,
      logger: createLogger({ level: "silent" }),
      accounts: new AccountRegistry(db, { initialCredits: INITIAL }),
      settings: {
        costPerGeneration: 1,
        textModel: "google/nano-banana",
        editModel: "google/nano-banana-edit",
        pollBudgetMs: options.pollBudgetMs ?? 5_000,
        jobTimeoutMs: options.jobTimeoutMs ?? 60_000,
        createTaskTimeoutMs: options.createTaskTimeoutMs,
        appUrl: options.appUrl,
        notifyAcrossInstances: false,
        queueMax: options.queueMax,
        createRate: { limit: 20, windowMs: 10_000 },
      },
    });
    services.push(created);
    return created;
  }
  return kit;
}
