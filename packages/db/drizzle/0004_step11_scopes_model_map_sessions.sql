CREATE TABLE "admin_sessions" (
	"id_hash" char(64) PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "model_map" jsonb;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "rate_limits" jsonb;--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "default_model" text;