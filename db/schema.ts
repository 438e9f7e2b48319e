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
 * One row per journey entry. `exited_at` comes from the entry's exit event; `last_step_*` and
 * `conversion_count` are derived (recomputed for the entries and users each import batch touches).
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
    lastStepId: text('last_step_id'),
    conversionCount: integer('conversion_count').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.journeyId, t.entryId] }),
    index('entries_cohort_idx').on(t.journeyId, t.enteredAt),
    index('entries_user_idx').on(t.userId, t.journeyId),
    index('entries_exit_idx').on(t.journeyId, t.exitedAt),
  ],
);

/** Step entries, messages and outcomes carry their entry's user and entered_at (both immutable) so cohort filters need no join. */
export const stepEntries = pgTable(
  'step_entries',
  {
    eventId: text('event_id').primaryKey(),
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    stepId: text('step_id').notNull(),
    userId: integer('user_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [
    index('step_entries_step_idx').on(t.journeyId, t.stepId, t.enteredAt, t.userId),
    index('step_entries_entry_idx').on(t.journeyId, t.entryId, t.at),
  ],
);

export const messages = pgTable(
  'messages',
  {
    eventId: text('event_id').primaryKey(),
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
  (t) => [
    index('messages_cohort_idx').on(t.journeyId, t.enteredAt, t.stepId, t.status, t.platform),
    index('messages_export_idx').on(t.journeyId, t.stepId, t.status, t.at),
  ],
);

export const stepOutcomes = pgTable(
  'step_outcomes',
  {
    eventId: text('event_id').primaryKey(),
    journeyId: text('journey_id').notNull(),
    entryId: text('entry_id').notNull(),
    stepId: text('step_id').notNull(),
    userId: integer('user_id').notNull(),
    enteredAt: ts('entered_at').notNull(),
    outcome: text('outcome').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [index('step_outcomes_cohort_idx').on(t.journeyId, t.enteredAt, t.stepId)],
);

/** The users' own behaviour stream; which journey a conversion counts for is derived. */
export const conversions = pgTable(
  'conversions',
  {
    eventId: text('event_id').primaryKey(),
    userId: integer('user_id').notNull(),
    event: text('event').notNull(),
    at: ts('at').notNull(),
  },
  (t) => [index('conversions_user_idx').on(t.userId, t.event, t.at)],
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
    primaryKey({ columns: [t.journeyId, t.eventId] }),
    index('attributions_user_idx').on(t.userId),
    index('attributions_cohort_idx').on(t.journeyId, t.enteredAt),
    index('attributions_entry_idx').on(t.journeyId, t.entryId),
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
    primaryKey({ columns: [t.journeyId, t.userId] }),
    index('first_conversions_cohort_idx').on(t.journeyId, t.enteredAt),
  ],
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
