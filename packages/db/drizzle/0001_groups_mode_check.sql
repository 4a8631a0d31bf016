UPDATE "groups" SET "mode" = 'single' WHERE "mode" = 'forced';--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_mode_check" CHECK ("groups"."mode" in ('single', 'mixed'));