/**
 * An in-memory image provider for unit tests of lib/generation (the port in
 * lib/generation/provider.ts): no server, no kie-sim. Tasks stay `running` until the test ends
 * them with succeed() or fail(); `failCreate` makes the next createTask reject.
 */
import type { ImageProvider, ProviderTask } from "@/lib/generation";
import type { ProviderTaskInput } from "@/lib/generation/provider";

/**
 * An error the fake provider raises; `ambiguous`: it may still have created the task;
 * `rateLimitedMs`: a 429 (nothing created), with the pause it asks for.
 */
export class FakeProviderError extends Error {
  constructor(
    message: string,
    readonly options: { ambiguous?: boolean; failing?: boolean; rateLimitedMs?: number } = {},
  ) {
    super(message);
  }
}

export interface FakeProvider extends ImageProvider {
  /** Every createTask input, in order. */
  readonly created: ProviderTaskInput[];
  readonly tasks: Map<string, ProviderTask>;
  /** How many times readTask was called. */
  reads: number;
  /** The next createTask rejects with this. */
  failCreate?: unknown;
  /** What every createTask warns about (as KIE's client does for an option it cannot send). */
  createWarnings: string[];
  /** Ends the task with these results; `durationMs`: how long the provider says it ran. */
  succeed(taskId: string, resultUrls: string[], durationMs?: number): void;
  fail(taskId: string, message: string): void;
}

export function createFakeProvider(): FakeProvider {
  const fake: FakeProvider = {
    created: [],
    tasks: new Map(),
    reads: 0,
    createWarnings: [],
    async createTask(input) {
      if (fake.failCreate !== undefined) {
        const error = fake.failCreate;
        fake.failCreate = undefined;
        throw error;
      }
      fake.created.push(input);
      const taskId = `fake-task-${fake.created.length}`;
      fake.tasks.set(taskId, { taskId, state: "running", resultUrls: [], callBackUrl: input.callBackUrl });
      return { taskId, warnings: [...fake.createWarnings] };
    },
    async readTask(taskId) {
      fake.reads++;
      return { ...(fake.tasks.get(taskId) ?? { taskId, state: "unrecorded", resultUrls: [] }) };
    },
    async uploadFile(file) {
      return { url: `https://files.example/${file.fileName ?? "upload"}` };
    },
    parseCallback(body) {
      const taskId = (body as { taskId?: unknown } | null)?.taskId;
      return typeof taskId === "string" ? { ok: true, taskId } : { ok: false };
    },
    isAmbiguousCreateFailure: (error) =>
      error instanceof FakeProviderError && error.options.ambiguous === true,
    isRateLimited: (error) => (error instanceof FakeProviderError ? error.options.rateLimitedMs : undefined),
    isProviderFailing: (error) => !(error instanceof FakeProviderError) || error.options.failing === true,
    describeError: (error) => (error instanceof FakeProviderError ? `fake: ${error.message}` : undefined),
    succeed(taskId, resultUrls, durationMs) {
      const { callBackUrl } = fake.tasks.get(taskId) ?? {};
      fake.tasks.set(taskId, { taskId, state: "succeeded", resultUrls, callBackUrl, durationMs });
    },
    fail(taskId, message) {
      fake.tasks.set(taskId, { taskId, state: "failed", resultUrls: [], failMessage: message });
    },
  };
  return fake;
}
