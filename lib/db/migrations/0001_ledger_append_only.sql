-- The credit ledger is append-only: a correction is a new row, never an edit. TRUNCATE (tests only)
-- is not affected by row triggers.
CREATE FUNCTION "nano_banana"."credit_ledger_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'nano_banana.credit_ledger is append-only (% refused)', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "credit_ledger_append_only"
BEFORE UPDATE OR DELETE ON "nano_banana"."credit_ledger"
FOR EACH ROW EXECUTE FUNCTION "nano_banana"."credit_ledger_refuse_change"();
