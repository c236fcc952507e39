ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_key" text;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_thumb_key" text;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_bytes" integer;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_type" text;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_width" integer;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_height" integer;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_sha256" text;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_stored_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "image_retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "images_deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "input_images" jsonb;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "warnings" jsonb;--> statement-breakpoint
ALTER TABLE "nano_banana"."generations" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "generations_image_pending_idx" ON "nano_banana"."generations" USING btree ("image_retry_at") WHERE "nano_banana"."generations"."result_urls" is not null and "nano_banana"."generations"."image_stored_at" is null and "nano_banana"."generations"."images_deleted_at" is null;--> statement-breakpoint
CREATE INDEX "generations_image_stored_idx" ON "nano_banana"."generations" USING btree ("image_stored_at") WHERE "nano_banana"."generations"."image_stored_at" is not null and "nano_banana"."generations"."images_deleted_at" is null;