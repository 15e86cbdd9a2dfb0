ALTER TABLE "sync_runs" ADD COLUMN "drift_missing" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "drift_edited" integer DEFAULT 0 NOT NULL;