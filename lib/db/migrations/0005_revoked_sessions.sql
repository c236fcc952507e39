CREATE TABLE "nano_banana"."revoked_sessions" (
	"session_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."revoked_sessions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE INDEX "revoked_sessions_expires_idx" ON "nano_banana"."revoked_sessions" USING btree ("expires_at");