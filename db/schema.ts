// The database schema: raw journey events, the per-entry state derived from them, and bookkeeping.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

/** Integer surrogate keys for External IDs, so joins and distinct counts run on integers. */
export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  externalId: text('external_id').notNull().unique(),
});

export const journeys = pgTable('journeys', {
  journeyId: text('journey_id').primaryKey(),
  name: text('name').notNull(),
  conversionEvent: text('conversion_event'),
  attributionWindowHours: doublePrecision('attribution_window_hours').notNull(),
  reentry: boolean('reentry').notNull(),
  /** Interpretation-flag thresholds set per journey (percentages); null = the documented defaults. */
  thresholds: jsonb('thresholds').$type<Record<string, number>>(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  /** Latest entered_at of any entry: orders `/journey list` by newest activity. */
  lastActivityAt: ts('last_activity_at'),
});

export const steps = pgTable(
  'steps',
  {
    journeyId: text('journey_id').notNull().references(() => journeys.journeyId),
    stepId: text('step_id').notNull(),
    position: integer('position').notNull(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    campaignId: text('campaign_id'),
    next: text('next').array().notNull().default(sql`'{}'::text[]`),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.stepId] })],
);

/**
 * One row per journey entry. `exited_at` comes from the entry's exit event; the other columns after it are derived
 * from the events (recomputed, inside each import batch, for the entries and users the batch touched). Every
 * primary key of the event tables starts with the user key, so they can be distributed by user (docs/SCALING.md).
 */
export const entries = pgTable(
  'entries',
  {
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    userId: integer('user_id').notNull(),
    eventId: text('event_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    exitedAt: ts('exited_at'),
    exitEventId: text('exit_event_id'),
    exitReason: text('exit_reason'),
    /** entered_at of the same user's previous entry in the journey: null marks one entry per user (distinct users, exactly). */
    prevEnteredAt: ts('prev_entered_at'),
    /**
     * The entry's last step (its step entry with the latest `at`, tie greatest event_id), kept for exited entries:
     * METRICS.md counts only exits by last step, so an entry still in the journey is not updated per step entry.
     */
    lastStepId: text('last_step_id'),
    lastStepAt: ts('last_step_at'),
    lastStepEventId: text('last_step_event_id'),
    /** Conversion events attributed to the entry. */
    conversionCount: integer('conversion_count').notNull().default(0),
    /** The user's first valid conversion in the journey is attributed to this entry. */
    firstConversion: boolean('first_conversion').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.journeyId, t.entryId] }),
    // Not unique: the import keeps entry_id unique within a journey, and a unique index must hold the distribution key.
    index('entries_entry_idx').on(t.journeyId, t.entryId),
    index('entries_cohort_idx').on(t.journeyId, t.enteredAt),
    index('entries_reentry_idx')
      .on(t.journeyId, t.enteredAt, t.prevEnteredAt)
      .where(sql`${t.prevEnteredAt} is not null`),
    // By the previous row's time: the rows of a period whose previous row falls in the period's first, partial day.
    index('entries_prev_idx')
      .on(t.journeyId, t.prevEnteredAt, t.enteredAt)
      .where(sql`${t.prevEnteredAt} is not null`),
  ],
);

/**
 * Step entries, messages and outcomes carry their entry's user and entered_at (both immutable) so cohort filters
 * need no join. event_id is unique across all events through `event_ids`.
 */
export const stepEntries = pgTable(
  'step_entries',
  {
    eventId: text('event_id').notNull(),
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    stepId: text('step_id').notNull(),
    userId: integer('user_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    /** Derived: entered_at of the user's previous step entry at this step (by entered_at, entry_id, event_id). */
    prevEnteredAt: ts('prev_entered_at'),
    at: ts('at').notNull(),
  },
  // No primary key: event_ids owns uniqueness. The user index finds a user's rows of a journey (previous step
  // entries, an entry's last step); reports read raw step entries only for the part of a period that is not whole
  // hours, so a narrow cohort index will do, and for distinct users the revisits of a period's partial first and
  // last days (the two partial indexes). Narrow keys: each index costs the import about 2 µs a row.
  (t) => [
    index('step_entries_user_idx').on(t.userId, t.journeyId),
    index('step_entries_cohort_idx').on(t.journeyId, t.enteredAt),
    index('step_entries_revisit_idx')
      .on(t.journeyId, t.enteredAt, t.stepId, t.prevEnteredAt)
      .where(sql`${t.prevEnteredAt} is not null`),
    index('step_entries_prev_idx')
      .on(t.journeyId, t.prevEnteredAt, t.enteredAt, t.stepId)
      .where(sql`${t.prevEnteredAt} is not null`),
  ],
);

export const messages = pgTable(
  'messages',
  {
    eventId: text('event_id').notNull(),
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    stepId: text('step_id').notNull(),
    userId: integer('user_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    status: text('status').notNull(),
    /** android | ios | web | other, or null when the event named no platform. */
    platform: text('platform'),
    reason: text('reason'),
    at: ts('at').notNull(),
  },
  // Append-only, and the largest table: one narrow index (each index costs the import ~2 µs a row). No primary key:
  // event_ids owns uniqueness, nothing updates or looks up a message, and a step-users export sorts its cohort.
  (t) => [index('messages_cohort_idx').on(t.journeyId, t.enteredAt)],
);

export const stepOutcomes = pgTable(
  'step_outcomes',
  {
    eventId: text('event_id').notNull(),
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    stepId: text('step_id').notNull(),
    userId: integer('user_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    outcome: text('outcome').notNull(),
    at: ts('at').notNull(),
  },
  // Append-only like messages.
  (t) => [index('step_outcomes_cohort_idx').on(t.journeyId, t.enteredAt)],
);

/** The users' own behaviour stream; which journey a conversion counts for is derived. */
export const conversions = pgTable(
  'conversions',
  {
    eventId: text('event_id').notNull(),
    userId: integer('user_id').notNull(),
    event: text('event').notNull(),
    at: ts('at').notNull(),
  },
  // Unique through event_id; ordered for attribution's lookup (a user's conversions of one event name, by time).
  (t) => [primaryKey({ columns: [t.userId, t.event, t.at, t.eventId] })],
);

/** Derived: each conversion event attributed to exactly one entry of a journey (METRICS.md). */
export const conversionAttributions = pgTable(
  'conversion_attributions',
  {
    journeyId: text('journey_id').notNull(),
    eventId: text('event_id').notNull(),
    userId: integer('user_id').notNull(),
    entryId: text('entry_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.journeyId, t.eventId] }),
    index('attributions_cohort_idx').on(t.journeyId, t.enteredAt),
  ],
);

/** Derived: a user's first valid conversion in a journey (a user converts once per journey, ever). */
export const firstConversions = pgTable(
  'first_conversions',
  {
    journeyId: text('journey_id').notNull(),
    userId: integer('user_id').notNull(),
    eventId: text('event_id').notNull(),
    entryId: text('entry_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.journeyId] }),
    index('first_conversions_cohort_idx').on(t.journeyId, t.enteredAt),
  ],
);

/*
 * Rollups: additive counts per journey and UTC bucket of the entry's entered_at, at two grains ('day' and
 * 'hour'), kept exact inside every import batch transaction. A report sums whole days, then whole hours, and
 * reads raw rows only for the part of a period that is not whole hours (reports/metrics.ts). Distinct users are
 * additive too: a row whose `prev_entered_at` is null is the user's first one, and a period's distinct users are its
 * rows less those whose previous row lies in the period too (the revisit cells below, and for the period's partial
 * first and last days the raw rows that have a previous row; METRICS.md's unique-user counts, exactly).
 */
const rollupKey = () => ({
  journeyId: text('journey_id').notNull(),
  /** 'day' or 'hour' */
  grain: text('grain').notNull(),
  bucket: ts('bucket').notNull(),
});

/** Per entry state, by the entry's last step ('' = no step entry yet). */
export const entryRollups = pgTable(
  'entry_rollups',
  {
    ...rollupKey(),
    lastStepId: text('last_step_id').notNull(),
    entries: integer('entries').notNull(),
    /** Entries whose prev_entered_at is null (the user's first entry in the journey). */
    firstEntries: integer('first_entries').notNull(),
    conversionEvents: integer('conversion_events').notNull(),
    convertedUsers: integer('converted_users').notNull(),
    /** Exited entries without an attributed conversion (total_exits). */
    exits: integer('exits').notNull(),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.grain, t.bucket, t.lastStepId] })],
);

export const stepEntryRollups = pgTable(
  'step_entry_rollups',
  {
    ...rollupKey(),
    stepId: text('step_id').notNull(),
    entries: integer('entries').notNull(),
    /** Step entries whose prev_entered_at is null (the user's first at this step). */
    firstUsers: integer('first_users').notNull(),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.grain, t.bucket, t.stepId] })],
);

export const messageRollups = pgTable(
  'message_rollups',
  {
    ...rollupKey(),
    stepId: text('step_id').notNull(),
    status: text('status').notNull(),
    /** '' = no platform */
    platform: text('platform').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.grain, t.bucket, t.stepId, t.status, t.platform] })],
);

export const outcomeRollups = pgTable(
  'outcome_rollups',
  {
    ...rollupKey(),
    stepId: text('step_id').notNull(),
    outcome: text('outcome').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.journeyId, t.grain, t.bucket, t.stepId, t.outcome] })],
);

/*
 * Revisit cells: rows whose same-user previous row exists, counted by the UTC day of the row and the UTC day of the
 * previous row. A period's distinct users are its rows minus the rows whose previous row lies in the period too; for
 * the period's whole days those are summed here (previous day on or after the period's first whole day), so a report
 * reads raw rows only for the period's partial days at its edges (reports/metrics.ts). Kept exact in every import
 * batch like the rollups above.
 */
const revisitKey = () => ({
  journeyId: text('journey_id').notNull(),
  enteredDay: ts('entered_day').notNull(),
  prevDay: ts('prev_day').notNull(),
});

export const entryRevisitRollups = pgTable(
  'entry_revisit_rollups',
  { ...revisitKey(), count: integer('count').notNull() },
  (t) => [primaryKey({ columns: [t.journeyId, t.enteredDay, t.prevDay] })],
);

export const stepRevisitRollups = pgTable(
  'step_revisit_rollups',
  { ...revisitKey(), stepId: text('step_id').notNull(), count: integer('count').notNull() },
  (t) => [primaryKey({ columns: [t.journeyId, t.enteredDay, t.prevDay, t.stepId] })],
);

/** Every stored event_id, whatever its type: event_ids are unique across all events. */
export const eventIds = pgTable('event_ids', {
  eventId: text('event_id').primaryKey(),
  importId: integer('import_id').notNull(),
});

export const imports = pgTable('imports', {
  id: serial('id').primaryKey(),
  source: text('source').notNull(),
  strict: boolean('strict').notNull(),
  /** running | completed | refused (strict mode found bad lines) | failed */
  status: text('status').notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
  accepted: bigint('accepted', { mode: 'number' }).notNull().default(0),
  duplicates: bigint('duplicates', { mode: 'number' }).notNull().default(0),
  rejected: bigint('rejected', { mode: 'number' }).notNull().default(0),
});

/** Every export, allowed or denied: who, what, when, how many rows, where. */
export const exportAudit = pgTable('export_audit', {
  id: serial('id').primaryKey(),
  at: ts('at').notNull().defaultNow(),
  actor: text('actor').notNull(),
  channel: text('channel'),
  journeyId: text('journey_id').notNull(),
  exportKind: text('export_kind').notNull(),
  detail: text('detail'),
  rows: integer('rows'),
  outcome: text('outcome').notNull(),
});

/** A channel's digest subscription: which journeys (one, or null = all), when, in which zone, over how many days. */
export const digestSubscriptions = pgTable('digest_subscriptions', {
  id: serial('id').primaryKey(),
  channelId: text('channel_id').notNull(),
  /** A journey id, or null for every journey at the time of each run. */
  journeyId: text('journey_id'),
  /** The schedule as people read it back ("daily 09:00", "weekly mon 09:00", or the cron). */
  schedule: text('schedule').notNull(),
  /** The same schedule as a 5-field cron, read in `tz`. */
  cron: text('cron').notNull(),
  /** IANA zone the schedule and the period's days are read in. */
  tz: text('tz').notNull(),
  /** The digest covers the last this-many full days (in `tz`) before each run. */
  periodDays: integer('period_days').notNull().default(7),
  /** Flag thresholds for this digest on top of the journey's own (percentages); null = the journey's. */
  thresholds: jsonb('thresholds').$type<Record<string, number>>(),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/**
 * One row per scheduled run of a subscription. The unique run key (subscription, scheduled time) is what makes a
 * run post once: a runner inserts the row to claim it and posts only if its insert won.
 */
export const digestRuns = pgTable(
  'digest_runs',
  {
    id: serial('id').primaryKey(),
    subscriptionId: integer('subscription_id')
      .notNull()
      .references(() => digestSubscriptions.id, { onDelete: 'cascade' }),
    scheduledFor: ts('scheduled_for').notNull(),
    /** claimed (a runner is posting it) | posted | failed (to be retried at next_attempt_at) | skipped */
    status: text('status').notNull(),
    /** Posted well after its time (after downtime or retries); the post says so. */
    late: boolean('late').notNull().default(false),
    attempts: integer('attempts').notNull().default(0),
    claimedBy: text('claimed_by'),
    /** A claim not finished by then is taken to be abandoned (its runner died) and may be claimed again. */
    claimExpiresAt: ts('claim_expires_at'),
    nextAttemptAt: ts('next_attempt_at'),
    /** ts of the parent message once posted: a retry continues the thread instead of posting it again. */
    postedTs: text('posted_ts'),
    /** Thread messages already posted under posted_ts. */
    threadPartsPosted: integer('thread_parts_posted').notNull().default(0),
    postedAt: ts('posted_at'),
    /** Why it failed, or why it was skipped. */
    detail: text('detail'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('digest_runs_run_key').on(t.subscriptionId, t.scheduledFor),
    index('digest_runs_retry_idx').on(t.status, t.nextAttemptAt),
  ],
);
