CREATE TABLE "source_config" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"mode" text DEFAULT 'builtin' NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" text,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text,
	"session" text,
	"session_version" integer DEFAULT 0 NOT NULL,
	"budget_window_start" timestamp with time zone,
	"budget_used" integer DEFAULT 0 NOT NULL,
	"login_window_start" timestamp with time zone,
	"logins_used" integer DEFAULT 0 NOT NULL,
	"sr_high_water" text,
	"admins_refreshed_at" timestamp with time zone,
	"last_read_at" timestamp with time zone,
	"last_read_error" text,
	"last_read_stats" jsonb
);
--> statement-breakpoint
ALTER TABLE "admins" ADD COLUMN "sysaid_user_id" text;--> statement-breakpoint
ALTER TABLE "admins" ADD COLUMN "removed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "calendar_items" ADD COLUMN "source" text DEFAULT 'builtin' NOT NULL;--> statement-breakpoint
CREATE INDEX "calendar_items_key" ON "calendar_items" USING btree ("key");