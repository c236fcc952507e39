CREATE TABLE "nano_banana"."kie_budget" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer NOT NULL,
	"expire" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "nano_banana"."kie_budget" ENABLE ROW LEVEL SECURITY;