CREATE TABLE "admin_settings" (
	"admin_id" text PRIMARY KEY NOT NULL,
	"sync_enabled" boolean DEFAULT false NOT NULL,
	"item_types" text[] DEFAULT '{}'::text[] NOT NULL,
	"days_back" integer DEFAULT 30 NOT NULL,
	"days_forward" integer DEFAULT 365 NOT NULL,
	"include_closed" boolean DEFAULT false NOT NULL,
	"mark_private" boolean DEFAULT false NOT NULL,
	"busy_only" boolean DEFAULT false NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "admins" (
	"id" text PRIMARY KEY NOT NULL,
	"display_name" text NOT NULL,
	"email" text NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"feed_token_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"role" text NOT NULL,
	"admin_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" serial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "calendar_items" (
	"key" text NOT NULL,
	"admin_id" text NOT NULL,
	"type" text NOT NULL,
	"timing" jsonb NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"title" text NOT NULL,
	"body" text DEFAULT '' NOT NULL,
	"url" text,
	"status_class" text,
	"parent" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "calendar_items_admin_id_key_pk" PRIMARY KEY("admin_id","key")
);
--> statement-breakpoint
CREATE TABLE "event_links" (
	"admin_id" text NOT NULL,
	"item_key" text NOT NULL,
	"provider" text NOT NULL,
	"remote_id" text,
	"remote_version" text,
	"content_hash" text,
	"generation" integer DEFAULT 1 NOT NULL,
	"state" text NOT NULL,
	"last_error" text,
	"item_starts_at" timestamp with time zone,
	"synced_at" timestamp with time zone,
	CONSTRAINT "event_links_admin_id_provider_item_key_pk" PRIMARY KEY("admin_id","provider","item_key")
);
--> statement-breakpoint
CREATE TABLE "feed_events" (
	"admin_id" text NOT NULL,
	"uid" text NOT NULL,
	"marker" text NOT NULL,
	"event" jsonb NOT NULL,
	"sequence" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feed_events_admin_id_uid_pk" PRIMARY KEY("admin_id","uid")
);
--> statement-breakpoint
CREATE TABLE "integration" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"installation_id" uuid NOT NULL,
	"protocol" text DEFAULT 'ics' NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" text,
	"secrets_updated_at" timestamp with time zone,
	"enabled" boolean DEFAULT false NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "plan_changes" (
	"run_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"batch_no" integer,
	"item_key" text NOT NULL,
	"op" text NOT NULL,
	"reason" text NOT NULL,
	"state" text NOT NULL,
	"event" jsonb,
	"content_hash" text,
	"item_starts_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "plan_changes_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"admin_id" text NOT NULL,
	"provider" text NOT NULL,
	"trigger" text NOT NULL,
	"mode" text DEFAULT 'sync' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"created" integer DEFAULT 0 NOT NULL,
	"updated" integer DEFAULT 0 NOT NULL,
	"deleted" integer DEFAULT 0 NOT NULL,
	"unchanged" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"held_deletes" integer DEFAULT 0 NOT NULL,
	"source_items" integer DEFAULT 0 NOT NULL,
	"error" text,
	"workflow_id" text,
	"workflow_run_id" text
);
--> statement-breakpoint
ALTER TABLE "admin_settings" ADD CONSTRAINT "admin_settings_admin_id_admins_id_fk" FOREIGN KEY ("admin_id") REFERENCES "public"."admins"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "audit_log_at" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "calendar_items_admin_starts" ON "calendar_items" USING btree ("admin_id","starts_at");--> statement-breakpoint
CREATE INDEX "plan_changes_run_batch" ON "plan_changes" USING btree ("run_id","batch_no");--> statement-breakpoint
CREATE INDEX "sync_runs_admin_started" ON "sync_runs" USING btree ("admin_id","started_at");