ALTER TABLE "source_config" ADD COLUMN "server_limit" integer;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "server_remaining" integer;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "server_reset_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "login_refused" text;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "login_refused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "sr_insert_high_water" text;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "update_time_filter" text;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "filters_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "existence_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "existence_cursor" text;--> statement-breakpoint
ALTER TABLE "source_config" ADD COLUMN "admin_user_names" jsonb;