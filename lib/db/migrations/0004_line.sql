ALTER TABLE "nano_banana"."generations" DROP CONSTRAINT "generations_status_valid";--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" DROP CONSTRAINT "generations_settled_iff_final";--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "queue_round" integer;--> statement-breakpoint
CREATE INDEX "generations_line_idx" ON "nano_banana"."generations" USING btree ("queue_round","created_at","id") WHERE "nano_banana"."generations"."status" = 'queued';--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD CONSTRAINT "generations_status_valid" CHECK ("nano_banana"."generations"."status" in ('queued', 'pending', 'processing', 'succeeded', 'failed', 'timeout'));--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD CONSTRAINT "generations_settled_iff_final" CHECK (("nano_banana"."generations"."status" in ('queued', 'pending', 'processing')) = ("nano_banana"."generations"."settled_at" is null));