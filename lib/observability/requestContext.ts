import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The id of the HTTP request being served, wherever the code is (KIE client, ledger, job
 * settlement): the logger stamps it on every line written while the request runs (DESIGN.md §7).
 */
const storage = new AsyncLocalStorage<{ requestId: string }>();

export function withRequestId<T>(requestId: string, run: () => T): T {
  return storage.run({ requestId }, run);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
