CREATE TABLE "conversion_attributions" (
	"journey_id" text NOT NULL,
	"event_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entry_id" text NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "conversion_attributions_user_id_journey_id_event_id_pk" PRIMARY KEY("user_id","journey_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "conversions" (
	"event_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"event" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "conversions_user_id_event_at_event_id_pk" PRIMARY KEY("user_id","event","at","event_id")
);
--> statement-breakpoint
CREATE TABLE "digest_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"subscription_id" integer NOT NULL,
	"scheduled_for" timestamp (3) with time zone NOT NULL,
	"status" text NOT NULL,
	"late" boolean DEFAULT false NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"claimed_by" text,
	"claim_expires_at" timestamp (3) with time zone,
	"next_attempt_at" timestamp (3) with time zone,
	"posted_ts" text,
	"thread_parts_posted" integer DEFAULT 0 NOT NULL,
	"posted_at" timestamp (3) with time zone,
	"detail" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "digest_runs_run_key" UNIQUE("subscription_id","scheduled_for")
);
--> statement-breakpoint
CREATE TABLE "digest_subscriptions" (
	"id" serial PRIMARY KEY NOT NULL,
	"channel_id" text NOT NULL,
	"journey_id" text,
	"schedule" text NOT NULL,
	"cron" text NOT NULL,
	"tz" text NOT NULL,
	"period_days" integer DEFAULT 7 NOT NULL,
	"thresholds" jsonb,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"journey_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"event_id" text NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"exited_at" timestamp (3) with time zone,
	"exit_event_id" text,
	"exit_reason" text,
	"prev_entered_at" timestamp (3) with time zone,
	"last_step_id" text,
	"last_step_at" timestamp (3) with time zone,
	"last_step_event_id" text,
	"conversion_count" integer DEFAULT 0 NOT NULL,
	"first_conversion" boolean DEFAULT false NOT NULL,
	CONSTRAINT "entries_user_id_journey_id_entry_id_pk" PRIMARY KEY("user_id","journey_id","entry_id")
);
--> statement-breakpoint
CREATE TABLE "entry_rollups" (
	"journey_id" text NOT NULL,
	"grain" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"last_step_id" text NOT NULL,
	"entries" integer NOT NULL,
	"first_entries" integer NOT NULL,
	"conversion_events" integer NOT NULL,
	"converted_users" integer NOT NULL,
	"exits" integer NOT NULL,
	CONSTRAINT "entry_rollups_journey_id_grain_bucket_last_step_id_pk" PRIMARY KEY("journey_id","grain","bucket","last_step_id")
);
--> statement-breakpoint
CREATE TABLE "event_ids" (
	"event_id" text PRIMARY KEY NOT NULL,
	"import_id" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "export_audit" (
	"id" serial PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"channel" text,
	"journey_id" text NOT NULL,
	"export_kind" text NOT NULL,
	"detail" text,
	"rows" integer,
	"outcome" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "first_conversions" (
	"journey_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"event_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "first_conversions_user_id_journey_id_pk" PRIMARY KEY("user_id","journey_id")
);
--> statement-breakpoint
CREATE TABLE "imports" (
	"id" serial PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"strict" boolean NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"accepted" bigint DEFAULT 0 NOT NULL,
	"duplicates" bigint DEFAULT 0 NOT NULL,
	"rejected" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journeys" (
	"journey_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"conversion_event" text,
	"attribution_window_hours" double precision NOT NULL,
	"reentry" boolean NOT NULL,
	"thresholds" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_activity_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "message_rollups" (
	"journey_id" text NOT NULL,
	"grain" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"step_id" text NOT NULL,
	"status" text NOT NULL,
	"platform" text NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "message_rollups_journey_id_grain_bucket_step_id_status_platform_pk" PRIMARY KEY("journey_id","grain","bucket","step_id","status","platform")
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"event_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"step_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"status" text NOT NULL,
	"platform" text,
	"reason" text,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outcome_rollups" (
	"journey_id" text NOT NULL,
	"grain" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"step_id" text NOT NULL,
	"outcome" text NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "outcome_rollups_journey_id_grain_bucket_step_id_outcome_pk" PRIMARY KEY("journey_id","grain","bucket","step_id","outcome")
);
--> statement-breakpoint
CREATE TABLE "step_entries" (
	"event_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"step_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"prev_entered_at" timestamp (3) with time zone,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "step_entry_rollups" (
	"journey_id" text NOT NULL,
	"grain" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"step_id" text NOT NULL,
	"entries" integer NOT NULL,
	"first_users" integer NOT NULL,
	CONSTRAINT "step_entry_rollups_journey_id_grain_bucket_step_id_pk" PRIMARY KEY("journey_id","grain","bucket","step_id")
);
--> statement-breakpoint
CREATE TABLE "step_outcomes" (
	"event_id" text NOT NULL,
	"journey_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"step_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"outcome" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "steps" (
	"journey_id" text NOT NULL,
	"step_id" text NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"campaign_id" text,
	"next" text[] DEFAULT '{}'::text[] NOT NULL,
	CONSTRAINT "steps_journey_id_step_id_pk" PRIMARY KEY("journey_id","step_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"external_id" text NOT NULL,
	CONSTRAINT "users_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
ALTER TABLE "digest_runs" ADD CONSTRAINT "digest_runs_subscription_id_digest_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."digest_subscriptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "steps" ADD CONSTRAINT "steps_journey_id_journeys_journey_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("journey_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attributions_cohort_idx" ON "conversion_attributions" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "digest_runs_retry_idx" ON "digest_runs" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "entries_entry_idx" ON "entries" USING btree ("journey_id","entry_id");--> statement-breakpoint
CREATE INDEX "entries_cohort_idx" ON "entries" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "entries_reentry_idx" ON "entries" USING btree ("journey_id","entered_at","prev_entered_at") WHERE "entries"."prev_entered_at" is not null;--> statement-breakpoint
CREATE INDEX "first_conversions_cohort_idx" ON "first_conversions" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "messages_cohort_idx" ON "messages" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "step_entries_user_idx" ON "step_entries" USING btree ("user_id","journey_id");--> statement-breakpoint
CREATE INDEX "step_entries_cohort_idx" ON "step_entries" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "step_entries_revisit_idx" ON "step_entries" USING btree ("journey_id","entered_at","step_id","prev_entered_at") WHERE "step_entries"."prev_entered_at" is not null;--> statement-breakpoint
CREATE INDEX "step_outcomes_cohort_idx" ON "step_outcomes" USING btree ("journey_id","entered_at");