import type { DbExecutor } from "@/lib/db";
import { ensureAccount } from "./ledger";

/**
 * ensureAccount() once per user per process: every authenticated request needs the account (the
 * ledger, idempotency keys and jobs reference the user), but only the first one needs a write.
 * Accounts are never deleted, so remembering "exists" is safe; the memory is bounded.
 */
export class AccountRegistry {
  private readonly known = new Set<string>();

  constructor(
    private readonly db: DbExecutor,
    private readonly options: {
      initialCredits: number;
      maxRemembered?: number;
      /** Called once per new account with the initial grant (metrics). */
      onGranted?: (amount: number) => void;
    },
  ) {}

  async ensure(userId: string, email?: string): Promise<void> {
    if (this.known.has(userId)) return;
    const { created } = await ensureAccount(this.db, userId, {
      initialCredits: this.options.initialCredits,
      email,
    });
    if (created) this.options.onGranted?.(this.options.initialCredits);
    if (this.known.size >= (this.options.maxRemembered ?? 50_000)) this.known.clear();
    this.known.add(userId);
  }
}
