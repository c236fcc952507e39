CREATE SCHEMA "nano_banana";
--> statement-breakpoint
CREATE TABLE "nano_banana"."credit_accounts" (
	"user_id" text PRIMARY KEY NOT NULL,
	"balance" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_accounts_balance_not_negative" CHECK ("nano_banana"."credit_accounts"."balance" >= 0)
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."credit_accounts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "nano_banana"."credit_ledger" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text NOT NULL,
	"generation_id" uuid,
	"kind" text NOT NULL,
	"amount" integer NOT NULL,
	"reference" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_ledger_generation_kind_unique" UNIQUE("generation_id","kind"),
	CONSTRAINT "credit_ledger_reference_unique" UNIQUE("reference"),
	CONSTRAINT "credit_ledger_kind_valid" CHECK ("nano_banana"."credit_ledger"."kind" in ('reserve', 'capture', 'release', 'grant')),
	CONSTRAINT "credit_ledger_amount_not_negative" CHECK ("nano_banana"."credit_ledger"."amount" >= 0),
	CONSTRAINT "credit_ledger_generation_matches_kind" CHECK (("nano_banana"."credit_ledger"."kind" = 'grant') = ("nano_banana"."credit_ledger"."generation_id" is null))
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."credit_ledger" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "nano_banana"."generations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text NOT NULL,
	"kie_task_id" text,
	"type" text NOT NULL,
	"model" text NOT NULL,
	"prompt" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"result_urls" jsonb,
	"error_code" text,
	"error_message" text,
	"cost" integer NOT NULL,
	"callback_token_hash" text,
	"idempotency_key" text,
	"request_id" text,
	"refreshed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"settled_at" timestamp with time zone,
	CONSTRAINT "generations_kie_task_id_unique" UNIQUE("kie_task_id"),
	CONSTRAINT "generations_type_valid" CHECK ("nano_banana"."generations"."type" in ('text_to_image', 'image_edit')),
	CONSTRAINT "generations_status_valid" CHECK ("nano_banana"."generations"."status" in ('pending', 'processing', 'succeeded', 'failed', 'timeout')),
	CONSTRAINT "generations_cost_not_negative" CHECK ("nano_banana"."generations"."cost" >= 0),
	CONSTRAINT "generations_settled_iff_final" CHECK (("nano_banana"."generations"."status" in ('pending', 'processing')) = ("nano_banana"."generations"."settled_at" is null))
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "nano_banana"."idempotency_keys" (
	"user_id" text NOT NULL,
	"key" text NOT NULL,
	"request_fingerprint" text NOT NULL,
	"state" text DEFAULT 'in_progress' NOT NULL,
	"response_status" integer,
	"response_body" jsonb,
	"generation_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_pk" PRIMARY KEY("user_id","key"),
	CONSTRAINT "idempotency_keys_state_valid" CHECK ("nano_banana"."idempotency_keys"."state" in ('in_progress', 'completed')),
	CONSTRAINT "idempotency_keys_key_length" CHECK (char_length("nano_banana"."idempotency_keys"."key") between 1 and 255)
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."idempotency_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "nano_banana"."users" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."users" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "nano_banana"."credit_accounts" ADD CONSTRAINT "credit_accounts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "nano_banana"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nano_banana"."credit_ledger" ADD CONSTRAINT "credit_ledger_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "nano_banana"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nano_banana"."credit_ledger" ADD CONSTRAINT "credit_ledger_generation_id_generations_id_fk" FOREIGN KEY ("generation_id") REFERENCES "nano_banana"."generations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD CONSTRAINT "generations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "nano_banana"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nano_banana"."idempotency_keys" ADD CONSTRAINT "idempotency_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "nano_banana"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "nano_banana"."idempotency_keys" ADD CONSTRAINT "idempotency_keys_generation_id_generations_id_fk" FOREIGN KEY ("generation_id") REFERENCES "nano_banana"."generations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "credit_ledger_one_settlement_per_generation" ON "nano_banana"."credit_ledger" USING btree ("generation_id") WHERE "nano_banana"."credit_ledger"."kind" in ('capture', 'release');--> statement-breakpoint
CREATE INDEX "credit_ledger_user_idx" ON "nano_banana"."credit_ledger" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "generations_user_newest_idx" ON "nano_banana"."generations" USING btree ("user_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "generations_status_created_idx" ON "nano_banana"."generations" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_idx" ON "nano_banana"."idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "users_email_lower_idx" ON "nano_banana"."users" USING btree (lower("email"));