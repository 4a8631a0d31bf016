CREATE TABLE "model_prices" (
	"model" text PRIMARY KEY NOT NULL,
	"input_usd_per_mtok" double precision NOT NULL,
	"output_usd_per_mtok" double precision NOT NULL,
	"cache_read_usd_per_mtok" double precision NOT NULL,
	"cache_write_5m_usd_per_mtok" double precision NOT NULL,
	"cache_write_1h_usd_per_mtok" double precision NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "limits" jsonb;--> statement-breakpoint
ALTER TABLE "usage_logs" ADD COLUMN "cache_write_5m_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_logs" ADD COLUMN "cache_write_1h_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_logs" ADD COLUMN "upstream_model" text;--> statement-breakpoint
ALTER TABLE "usage_logs" ADD COLUMN "cost_usd" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_logs" ADD COLUMN "unpriced" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_logs_api_key_created_at_idx" ON "usage_logs" USING btree ("api_key_id","created_at");