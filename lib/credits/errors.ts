/** Base class of credit-ledger errors. */

import { brand } from "@/lib/brand";
import type { HasProblem, Problem } from "@/lib/problem";

export class CreditsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The balance does not cover the cost; nothing was reserved (HTTP 402 insufficient_credits). */
export class InsufficientCreditsError extends CreditsError implements HasProblem {
  readonly code = "insufficient_credits";

  constructor(
    readonly balance: number,
    readonly cost: number,
  ) {
    super(`Insufficient credits: this needs ${cost}, the balance is ${balance}.`);
  }

  toProblem(): Problem {
    return { code: "insufficient_credits", logLevel: "info" };
  }
}

/** The user has no credit account: they have not made an authenticated request yet. */
export class UnknownUserError extends CreditsError {
  constructor(readonly userId: string) {
    super(`No credit account for user "${userId}"; accounts are created on the user's first request.`);
  }
}

/** The generation already has a reservation; a job reserves exactly once. Nothing was changed. */
export class AlreadyReservedError extends CreditsError {
  constructor(readonly generationId: string) {
    super(`Generation ${generationId} already has a credit reservation.`);
  }
}

brand(CreditsError, "credits.CreditsError");
brand(InsufficientCreditsError, "credits.InsufficientCreditsError");
brand(UnknownUserError, "credits.UnknownUserError");
brand(AlreadyReservedError, "credits.AlreadyReservedError");
