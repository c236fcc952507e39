/**
 * The one place a job ends (DESIGN.md §4, "exactly once"): one transaction runs the conditional
 * UPDATE (lib/db), then captures the reserve of a success or releases it for anything else
 * (lib/credits), and announces the settlement to the other instances. Every path that settles —
 * a status read, a wait, a callback, the reconciler, a timeout — comes through here.
 */
import { capture, release } from "@/lib/credits";
import type { DbExecutor } from "@/lib/db/client";
import { markSettled, notifySettled, type SettleInput } from "@/lib/db/generations";
import type { Generation } from "@/lib/db/schema";

export type { SettledStatus, SettleInput } from "@/lib/db/generations";

/** The settled row, or undefined when another path settled the job first (nothing was changed). */
export function settle(
  db: DbExecutor,
  id: string,
  input: SettleInput,
  options: { notify: boolean },
): Promise<Generation | undefined> {
  return db.transaction(async (tx) => {
    const row = await markSettled(tx, id, input);
    if (!row) return undefined;
    if (input.status === "succeeded") await capture(tx, id);
    else await release(tx, id);
    if (options.notify) await notifySettled(tx, id);
    return row;
  });
}
