CREATE TABLE "conversion_attributions" (
	"journey_id" text NOT NULL,
	"event_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entry_id" text NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "conversion_attributions_journey_id_event_id_pk" PRIMARY KEY("journey_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "conversions" (
	"event_id" text PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"event" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL
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
	"last_step_id" text,
	"conversion_count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "entries_journey_id_entry_id_pk" PRIMARY KEY("journey_id","entry_id")
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
	CONSTRAINT "first_conversions_journey_id_user_id_pk" PRIMARY KEY("journey_id","user_id")
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
CREATE TABLE "messages" (
	"event_id" text PRIMARY KEY NOT NULL,
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
CREATE TABLE "step_entries" (
	"event_id" text PRIMARY KEY NOT NULL,
	"journey_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"step_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"entered_at" timestamp (3) with time zone NOT NULL,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "step_outcomes" (
	"event_id" text PRIMARY KEY NOT NULL,
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
ALTER TABLE "steps" ADD CONSTRAINT "steps_journey_id_journeys_journey_id_fk" FOREIGN KEY ("journey_id") REFERENCES "public"."journeys"("journey_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attributions_user_idx" ON "conversion_attributions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "attributions_cohort_idx" ON "conversion_attributions" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "attributions_entry_idx" ON "conversion_attributions" USING btree ("journey_id","entry_id");--> statement-breakpoint
CREATE INDEX "conversions_user_idx" ON "conversions" USING btree ("user_id","event","at");--> statement-breakpoint
CREATE INDEX "entries_cohort_idx" ON "entries" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "entries_user_idx" ON "entries" USING btree ("user_id","journey_id");--> statement-breakpoint
CREATE INDEX "entries_exit_idx" ON "entries" USING btree ("journey_id","exited_at");--> statement-breakpoint
CREATE INDEX "first_conversions_cohort_idx" ON "first_conversions" USING btree ("journey_id","entered_at");--> statement-breakpoint
CREATE INDEX "messages_cohort_idx" ON "messages" USING btree ("journey_id","entered_at","step_id","status","platform");--> statement-breakpoint
CREATE INDEX "messages_export_idx" ON "messages" USING btree ("journey_id","step_id","status","at");--> statement-breakpoint
CREATE INDEX "step_entries_step_idx" ON "step_entries" USING btree ("journey_id","step_id","entered_at","user_id");--> statement-breakpoint
CREATE INDEX "step_entries_entry_idx" ON "step_entries" USING btree ("journey_id","entry_id","at");--> statement-breakpoint
CREATE INDEX "step_outcomes_cohort_idx" ON "step_outcomes" USING btree ("journey_id","entered_at","step_id");