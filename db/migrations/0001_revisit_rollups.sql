CREATE TABLE "entry_revisit_rollups" (
	"journey_id" text NOT NULL,
	"entered_day" timestamp (3) with time zone NOT NULL,
	"prev_day" timestamp (3) with time zone NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "entry_revisit_rollups_journey_id_entered_day_prev_day_pk" PRIMARY KEY("journey_id","entered_day","prev_day")
);
--> statement-breakpoint
CREATE TABLE "step_revisit_rollups" (
	"journey_id" text NOT NULL,
	"entered_day" timestamp (3) with time zone NOT NULL,
	"prev_day" timestamp (3) with time zone NOT NULL,
	"step_id" text NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "step_revisit_rollups_journey_id_entered_day_prev_day_step_id_pk" PRIMARY KEY("journey_id","entered_day","prev_day","step_id")
);
--> statement-breakpoint
CREATE INDEX "entries_prev_idx" ON "entries" USING btree ("journey_id","prev_entered_at","entered_at") WHERE "entries"."prev_entered_at" is not null;--> statement-breakpoint
CREATE INDEX "step_entries_prev_idx" ON "step_entries" USING btree ("journey_id","prev_entered_at","entered_at","step_id") WHERE "step_entries"."prev_entered_at" is not null;--> statement-breakpoint
-- A database that holds events already: its revisit cells from the stored rows (later imports keep them).
INSERT INTO "entry_revisit_rollups" ("journey_id", "entered_day", "prev_day", "count")
SELECT "journey_id", date_trunc('day', "entered_at", 'UTC'), date_trunc('day', "prev_entered_at", 'UTC'), count(*)
FROM "entries" WHERE "prev_entered_at" IS NOT NULL GROUP BY 1, 2, 3;--> statement-breakpoint
INSERT INTO "step_revisit_rollups" ("journey_id", "entered_day", "prev_day", "step_id", "count")
SELECT "journey_id", date_trunc('day', "entered_at", 'UTC'), date_trunc('day', "prev_entered_at", 'UTC'), "step_id", count(*)
FROM "step_entries" WHERE "prev_entered_at" IS NOT NULL GROUP BY 1, 2, 3, 4;
