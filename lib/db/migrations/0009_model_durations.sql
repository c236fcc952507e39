CREATE TABLE "nano_banana"."model_durations" (
	"model" text PRIMARY KEY NOT NULL,
	"samples_ms" integer[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_durations_samples_kept" CHECK (cardinality("nano_banana"."model_durations"."samples_ms") between 1 and 20)
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."model_durations" ENABLE ROW LEVEL SECURITY;