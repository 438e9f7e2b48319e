// The metrics engine: the overview and step metrics of METRICS.md for a journey and cohort, summed from the exact
// per-day and per-hour rollups kept at import, plus the raw rows of any part of the period that is not whole hours
// (and, for distinct users, the rows with a previous row in the period's partial first and last days).
// Every surface reads its numbers from here; reports/naive-metrics.ts computes the same from raw events only.
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
  return rangeFilter(column, period.from?.getTime() ?? null, period.to?.getTime() ?? null);
}

export function periodJson(period: Period): JourneyReport['period'] {
  return { from: period.from?.toISOString() ?? null, to: period.to?.toISOString() ?? null };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** [from, to) in epoch ms; null is unbounded. */
export interface Range {
  from: number | null;
  to: number | null;
}

/** Where each part of a period is read: whole UTC days and whole hours from rollups, the rest from raw rows. */
export interface PeriodParts {
  days: Range | null;
  hours: Range[];
  raw: Range[];
}

/**
 * Splits a period into whole days, whole hours at its edges and the raw rest (at most two pieces shorter than an
 * hour, only when a bound is not on the hour, as with a time zone like +05:30 or a typed time).
 */
export function splitPeriod(period: Period): PeriodParts {
  const from = period.from?.getTime() ?? -Infinity;
  const to = period.to?.getTime() ?? Infinity;
  const range = (a: number, b: number): Range => ({ from: Number.isFinite(a) ? a : null, to: Number.isFinite(b) ? b : null });
  const ceil = (ms: number, unit: number) => (Number.isFinite(ms) ? Math.ceil(ms / unit) * unit : ms);
  const floor = (ms: number, unit: number) => (Number.isFinite(ms) ? Math.floor(ms / unit) * unit : ms);
  const fromHour = ceil(from, HOUR_MS);
  const toHour = floor(to, HOUR_MS);
  if (!(fromHour < toHour)) return { days: null, hours: [], raw: [range(from, to)] };
  const raw: Range[] = [];
  if (from < fromHour) raw.push(range(from, fromHour));
  if (toHour < to) raw.push(range(toHour, to));
  const fromDay = ceil(fromHour, DAY_MS);
  const toDay = floor(toHour, DAY_MS);
  if (!(fromDay < toDay)) return { days: null, hours: [range(fromHour, toHour)], raw };
  const hours: Range[] = [];
  if (fromHour < fromDay) hours.push(range(fromHour, fromDay));
  if (toDay < toHour) hours.push(range(toDay, toHour));
  return { days: range(fromDay, toDay), hours, raw };
}

function rangeFilter(column: SQL, from: number | null, to: number | null): SQL {
  const parts: SQL[] = [sql`true`];
  if (from !== null) parts.push(sql`${column} >= ${new Date(from).toISOString()}::timestamptz`);
  if (to !== null) parts.push(sql`${column} < ${new Date(to).toISOString()}::timestamptz`);
  return sql.join(parts, sql` and `);
}

/**
 * One branch per part of the period: `rollup(grain, bucketFilter)` reads a rollup table, `rawRows(cohortFilter)`
 * the raw table; the branches are combined with union all and summed by the caller.
 */
function branches(parts: PeriodParts, rollup: (grain: 'day' | 'hour', filter: SQL) => SQL, rawRows: (filter: SQL) => SQL): SQL {
  const out: SQL[] = [];
  if (parts.days) out.push(rollup('day', rangeFilter(sql`bucket`, parts.days.from, parts.days.to)));
  for (const h of parts.hours) out.push(rollup('hour', rangeFilter(sql`bucket`, h.from, h.to)));
  for (const r of parts.raw) out.push(rawRows(rangeFilter(sql`entered_at`, r.from, r.to)));
  return sql.join(out, sql` union all `);
}

/**
 * Distinct users (METRICS.md's unique-user counts), exactly, as sums: over all time up to `to`, the rows with no
 * previous row of their user (`prev_entered_at` null); over a period with a start, the period's rows minus its
 * revisits, the rows whose previous row lies in the period too (prev ≥ from: it is never after the row itself).
 * Those come from three disjoint places, so no part of a long period is read row by row:
 * - rows in the period's whole UTC days whose previous row is on or after the first whole day: revisit cells;
 * - rows in the whole days whose previous row falls in the partial hours before them: by the previous row's time;
 * - rows in the partial days at the edges (whole hours and the raw rest), by the row's time.
 * `revisits(source)` turns each place into a query of negative counts; `null` when the period has no start.
 */
function periodRevisits(
  period: Period,
  parts: PeriodParts,
  revisits: (source: { cells: SQL } | { rows: SQL }) => SQL,
): SQL | null {
  if (period.from === null) return null;
  const from = period.from.getTime();
  const out: SQL[] = [];
  if (parts.days) {
    const fromDay = parts.days.from!;
    out.push(revisits({ cells: sql`${rangeFilter(sql`entered_day`, fromDay, parts.days.to)} and ${rangeFilter(sql`prev_day`, fromDay, null)}` }));
    if (from < fromDay) {
      out.push(revisits({ rows: sql`${rangeFilter(sql`prev_entered_at`, from, fromDay)} and ${rangeFilter(sql`entered_at`, fromDay, parts.days.to)}` }));
    }
  }
  for (const edge of [...parts.hours, ...parts.raw]) {
    // prev < edge.to adds nothing (prev ≤ entered_at) but bounds the scan whichever partial index is chosen.
    out.push(revisits({ rows: sql`${rangeFilter(sql`entered_at`, edge.from, edge.to)} and ${rangeFilter(sql`prev_entered_at`, from, edge.to)}` }));
  }
  return out.length === 0 ? null : sql.join(out, sql` union all `);
}

export interface EntryTotals {
  last_step_id: string;
  entries: unknown;
  users: unknown;
  conversion_events: unknown;
  converted_users: unknown;
  exits: unknown;
}

export interface MetricRows {
  /** Per last step ('' = none): entries, distinct users, attributed conversions, converted users, exits. */
  entries: EntryTotals[];
  stepEntries: Array<{ step_id: string; entry_count: unknown; entry_users: unknown }>;
  messages: Array<{ step_id: string; status: string; platform: string | null; n: unknown }>;
  /** In byte order of the outcome. */
  outcomes: Array<{ step_id: string; outcome: string; n: unknown }>;
}

async function fastRows(db: Db, journeyId: string, period: Period): Promise<MetricRows> {
  const j = journeyId;
  const parts = splitPeriod(period);
  // Distinct users: a period's rows less its revisits, or over all time the rows that are their user's first.
  const bounded = period.from !== null;
  const entryBranches = branches(
    parts,
    (grain, filter) => sql`select last_step_id, entries, ${bounded ? sql`entries` : sql`first_entries`} as users, conversion_events,
      converted_users, exits
      from entry_rollups where journey_id = ${j} and grain = ${grain} and ${filter}`,
    (filter) => sql`select coalesce(last_step_id, ''), 1, ${bounded ? sql`1` : sql`(prev_entered_at is null)::int`}, conversion_count,
      first_conversion::int, (exited_at is not null and conversion_count = 0)::int
      from entries where journey_id = ${j} and ${filter}`,
  );
  const entryRevisits = periodRevisits(period, parts, (source) =>
    'cells' in source
      ? sql`select '', 0, -sum(count), 0, 0, 0 from entry_revisit_rollups where journey_id = ${j} and ${source.cells}`
      : sql`select '', 0, -count(*), 0, 0, 0 from entries where journey_id = ${j} and ${source.rows}`,
  );
  const stepBranches = branches(
    parts,
    (grain, filter) =>
      sql`select step_id, entries, ${bounded ? sql`entries` : sql`first_users`} as users from step_entry_rollups
        where journey_id = ${j} and grain = ${grain} and ${filter}`,
    (filter) =>
      sql`select step_id, 1, ${bounded ? sql`1` : sql`(prev_entered_at is null)::int`} from step_entries where journey_id = ${j} and ${filter}`,
  );
  const stepRevisits = periodRevisits(period, parts, (source) =>
    'cells' in source
      ? sql`select step_id, 0, -sum(count) from step_revisit_rollups where journey_id = ${j} and ${source.cells} group by step_id`
      : sql`select step_id, 0, -count(*) from step_entries where journey_id = ${j} and ${source.rows} group by step_id`,
  );
  const also = (extra: SQL | null) => (extra ? sql` union all ${extra}` : sql``);
  const messageBranches = branches(
    parts,
    (grain, filter) => sql`select step_id, status, platform, count from message_rollups where journey_id = ${j} and grain = ${grain} and ${filter}`,
    (filter) => sql`select step_id, status, coalesce(platform, ''), 1 from messages where journey_id = ${j} and ${filter}`,
  );
  const outcomeBranches = branches(
    parts,
    (grain, filter) => sql`select step_id, outcome, count from outcome_rollups where journey_id = ${j} and grain = ${grain} and ${filter}`,
    (filter) => sql`select step_id, outcome, 1 from step_outcomes where journey_id = ${j} and ${filter}`,
  );
  // Independent queries: on a Postgres pool they run side by side on separate connections.
  const [entryRows, stepEntryRows, messageRows, outcomeRows] = await Promise.all([
    queryRows<EntryTotals>(
      db,
      sql`select last_step_id, sum(entries) as entries, sum(users) as users, sum(conversion_events) as conversion_events,
                 sum(converted_users) as converted_users, sum(exits) as exits
          from (${entryBranches}${also(entryRevisits)}) x(last_step_id, entries, users, conversion_events, converted_users, exits)
          group by last_step_id`,
    ),
    queryRows<{ step_id: string; entry_count: unknown; entry_users: unknown }>(
      db,
      sql`select step_id, sum(entries) as entry_count, sum(users) as entry_users
          from (${stepBranches}${also(stepRevisits)}) x(step_id, entries, users) group by step_id`,
    ),
    queryRows<{ step_id: string; status: string; platform: string; n: unknown }>(
      db,
      sql`select step_id, status, platform, sum(n) as n from (${messageBranches}) x(step_id, status, platform, n)
          group by step_id, status, platform`,
    ),
    queryRows<{ step_id: string; outcome: string; n: unknown }>(
      db,
      sql`select step_id, outcome, sum(n) as n from (${outcomeBranches}) x(step_id, outcome, n)
          group by step_id, outcome order by outcome collate "C"`,
    ),
  ]);
  return {
    entries: entryRows,
    stepEntries: stepEntryRows,
    messages: messageRows.map((r) => ({ ...r, platform: r.platform === '' ? null : r.platform })),
    outcomes: outcomeRows,
  };
}

export async function computeReport(db: Db, journey: JourneyInfo, period: Period): Promise<JourneyReport> {
  return assembleReport(journey, period, await fastRows(db, journey.journeyId, period));
}

/** Turns the aggregated rows into the report JSON of METRICS.md (shared with the naive baseline). */
export function assembleReport(journey: JourneyInfo, period: Period, rows: MetricRows): JourneyReport {
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
  for (const r of rows.stepEntries) {
    const step = stepReports.get(r.step_id);
    if (!step) continue;
    step.entry_count = toCount(r.entry_count);
    step.entry_users = toCount(r.entry_users);
  }
  let messagesSent = 0;
  for (const r of rows.messages) {
    const n = toCount(r.n);
    if (r.status === 'sent') messagesSent += n;
    const step = stepReports.get(r.step_id);
    if (!step) continue;
    const status = r.status as 'sent' | 'failed' | 'shown' | 'clicked';
    step[status] += n;
    if (r.platform !== null) {
      const counts = (step.platforms[r.platform as Platform] ??= { sent: 0, failed: 0, clicked: 0 });
      if (status !== 'shown') counts[status] += n;
    }
  }
  for (const step of stepReports.values()) step.platforms = orderPlatforms(step.platforms);
  for (const r of rows.outcomes) {
    const n = toCount(r.n);
    const step = stepReports.get(r.step_id);
    if (step && n > 0) step.outcomes[r.outcome] = n;
  }
  let totalEntries = 0;
  let entryUsers = 0;
  let conversionEvents = 0;
  let converted = 0;
  let totalExits = 0;
  let exitsBeforeFirstStep = 0;
  for (const r of rows.entries) {
    totalEntries += toCount(r.entries);
    entryUsers += toCount(r.users);
    conversionEvents += toCount(r.conversion_events);
    converted += toCount(r.converted_users);
    const exits = toCount(r.exits);
    totalExits += exits;
    if (r.last_step_id === '') exitsBeforeFirstStep += exits;
    else {
      const step = stepReports.get(r.last_step_id);
      if (step) step.exits += exits;
    }
  }

  const hasConversion = journey.conversionEvent !== null;
  const convertedUsers = hasConversion ? converted : null;
  return {
    journey: { journey_id: journey.journeyId, name: journey.name },
    period: periodJson(period),
    overview: {
      messages_sent: messagesSent,
      total_entries: totalEntries,
      entry_users: entryUsers,
      converted_users: convertedUsers,
      conversion_events: hasConversion ? conversionEvents : null,
      conversion_rate: convertedUsers === null || entryUsers === 0 ? null : (convertedUsers / entryUsers) * 100,
      total_exits: totalExits,
      exits_before_first_step: exitsBeforeFirstStep,
    },
    steps: [...stepReports.values()],
  };
}

function orderPlatforms(platforms: StepReport['platforms']): StepReport['platforms'] {
  const ordered: Partial<Record<Platform, PlatformCounts>> = {};
  for (const p of PLATFORMS) if (platforms[p]) ordered[p] = platforms[p];
  return ordered;
}
