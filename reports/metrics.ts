// The metrics engine: the overview and step metrics of METRICS.md for a journey and cohort, aggregated in SQL
// over the raw events and the per-entry state derived at import. Every surface reads its numbers from here.
import { asc, eq, sql, type SQL } from 'drizzle-orm';
import { queryRows, toCount, type Db } from '../db/client.js';
import { PLATFORMS, type Platform } from '../db/import/parse-event.js';
import { journeys, steps } from '../db/schema.js';
import type { JourneyInfo, JourneyReport, Period, PlatformCounts, StepKind, StepReport } from './report-types.js';

export async function loadJourney(db: Db, journeyId: string): Promise<JourneyInfo | null> {
  const [row] = await db.select().from(journeys).where(eq(journeys.journeyId, journeyId));
  if (!row) return null;
  const stepRows = await db.select().from(steps).where(eq(steps.journeyId, journeyId)).orderBy(asc(steps.position));
  return {
    journeyId: row.journeyId,
    name: row.name,
    conversionEvent: row.conversionEvent,
    attributionWindowHours: row.attributionWindowHours,
    reentry: row.reentry,
    thresholds: row.thresholds ?? null,
    steps: stepRows.map((s) => ({
      stepId: s.stepId,
      name: s.name,
      kind: s.kind as StepKind,
      campaignId: s.campaignId,
      next: s.next,
    })),
  };
}

/** The cohort condition of METRICS.md on a column holding the entry's entered_at. */
export function cohortFilter(column: SQL, period: Period): SQL {
  const parts: SQL[] = [sql`true`];
  if (period.from) parts.push(sql`${column} >= ${period.from.toISOString()}::timestamptz`);
  if (period.to) parts.push(sql`${column} < ${period.to.toISOString()}::timestamptz`);
  return sql.join(parts, sql` and `);
}

export function periodJson(period: Period): JourneyReport['period'] {
  return { from: period.from?.toISOString() ?? null, to: period.to?.toISOString() ?? null };
}

export async function computeReport(db: Db, journey: JourneyInfo, period: Period): Promise<JourneyReport> {
  const j = journey.journeyId;
  const inCohort = cohortFilter(sql`entered_at`, period);
  const [entryRow] = await queryRows<Record<string, unknown>>(
    db,
    sql`select count(*) as total_entries,
               count(distinct user_id) as entry_users,
               count(*) filter (where exited_at is not null and conversion_count = 0) as total_exits,
               count(*) filter (where exited_at is not null and conversion_count = 0 and last_step_id is null) as exits_before_first_step,
               coalesce(sum(conversion_count), 0) as conversion_events
        from entries where journey_id = ${j} and ${inCohort}`,
  );
  const [convertedRow] = await queryRows<{ n: unknown }>(
    db,
    sql`select count(*) as n from first_conversions where journey_id = ${j} and ${inCohort}`,
  );
  const stepEntryRows = await queryRows<{ step_id: string; entry_count: unknown; entry_users: unknown }>(
    db,
    sql`select step_id, count(*) as entry_count, count(distinct user_id) as entry_users
        from step_entries where journey_id = ${j} and ${inCohort} group by step_id`,
  );
  const messageRows = await queryRows<{ step_id: string; status: string; platform: Platform | null; n: unknown }>(
    db,
    sql`select step_id, status, platform, count(*) as n
        from messages where journey_id = ${j} and ${inCohort} group by step_id, status, platform`,
  );
  const outcomeRows = await queryRows<{ step_id: string; outcome: string; n: unknown }>(
    db,
    sql`select step_id, outcome, count(*) as n
        from step_outcomes where journey_id = ${j} and ${inCohort} group by step_id, outcome order by outcome collate "C"`,
  );
  const exitRows = await queryRows<{ step_id: string; n: unknown }>(
    db,
    sql`select last_step_id as step_id, count(*) as n
        from entries where journey_id = ${j} and ${inCohort}
          and exited_at is not null and conversion_count = 0 and last_step_id is not null
        group by last_step_id`,
  );

  const stepReports = new Map<string, StepReport>(
    journey.steps.map((s) => [
      s.stepId,
      {
        step_id: s.stepId,
        name: s.name,
        kind: s.kind,
        entry_count: 0,
        entry_users: 0,
        sent: 0,
        failed: 0,
        shown: 0,
        clicked: 0,
        platforms: {},
        outcomes: {},
        exits: 0,
      },
    ]),
  );
  for (const r of stepEntryRows) {
    const step = stepReports.get(r.step_id);
    if (!step) continue;
    step.entry_count = toCount(r.entry_count);
    step.entry_users = toCount(r.entry_users);
  }
  let messagesSent = 0;
  for (const r of messageRows) {
    const n = toCount(r.n);
    if (r.status === 'sent') messagesSent += n;
    const step = stepReports.get(r.step_id);
    if (!step) continue;
    const status = r.status as 'sent' | 'failed' | 'shown' | 'clicked';
    step[status] += n;
    if (r.platform !== null) {
      const counts = (step.platforms[r.platform] ??= { sent: 0, failed: 0, clicked: 0 });
      if (status !== 'shown') counts[status] += n;
    }
  }
  for (const step of stepReports.values()) step.platforms = orderPlatforms(step.platforms);
  for (const r of outcomeRows) {
    const step = stepReports.get(r.step_id);
    if (step) step.outcomes[r.outcome] = toCount(r.n);
  }
  for (const r of exitRows) {
    const step = stepReports.get(r.step_id);
    if (step) step.exits = toCount(r.n);
  }

  const hasConversion = journey.conversionEvent !== null;
  const entryUsers = toCount(entryRow?.entry_users);
  const convertedUsers = hasConversion ? toCount(convertedRow?.n) : null;
  return {
    journey: { journey_id: journey.journeyId, name: journey.name },
    period: periodJson(period),
    overview: {
      messages_sent: messagesSent,
      total_entries: toCount(entryRow?.total_entries),
      entry_users: entryUsers,
      converted_users: convertedUsers,
      conversion_events: hasConversion ? toCount(entryRow?.conversion_events) : null,
      conversion_rate: convertedUsers === null || entryUsers === 0 ? null : (convertedUsers / entryUsers) * 100,
      total_exits: toCount(entryRow?.total_exits),
      exits_before_first_step: toCount(entryRow?.exits_before_first_step),
    },
    steps: [...stepReports.values()],
  };
}

function orderPlatforms(platforms: StepReport['platforms']): StepReport['platforms'] {
  const ordered: Partial<Record<Platform, PlatformCounts>> = {};
  for (const p of PLATFORMS) if (platforms[p]) ordered[p] = platforms[p];
  return ordered;
}
