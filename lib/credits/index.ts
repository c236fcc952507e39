export { AccountRegistry } from "./accounts";
export {
  type AuditProblem,
  type AuditProblemKind,
  auditLedger,
  describeAudit,
  type LedgerAudit,
} from "./audit";
export { AlreadyReservedError, CreditsError, InsufficientCreditsError, UnknownUserError } from "./errors";
export {
  balance,
  capture,
  type EnsureAccountOptions,
  ensureAccount,
  type GrantInput,
  grant,
  initialGrantReference,
  type ReserveInput,
  release,
  reserve,
  type SettlementResult,
} from "./ledger";
