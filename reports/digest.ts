// A digest's numbers: for each journey of a subscription, the report of the last N full days in the digest's zone,
// the report of the N days before, and the flags. Every number comes from computeReport; `at` is the clock.
import { DateTime } from 'luxon';
import type { Db } from '../db/client.js';
import { computeFlags, resolveThresholds, type Flag, type Thresholds } from './flags.js';
import { formatPeriodLabel } from './format.js';
import { listJourneyNames } from './journey-lookup.js';
import { computeReport, loadJourney } from './metrics.js';
import { isValidTimeZone, PeriodError } from './periods.js';
import type { JourneyInfo, JourneyReport } from './report-types.js';

export const DEFAULT_PERIOD_DAYS = 7;
/** A digest over more than a year would compare against a period older than most data; longer is refused. */
export const MAX_PERIOD_DAYS = 366;

export interface DigestRequest {
  /** A journey id, or null for every journey. */
  journeyId: string | null;
  /** The run's scheduled time (or now, for `digest now`): the period ends at the start of that day. */
  at: Date;
  tz: string;
  periodDays: number;
  /** The subscription's own thresholds, on top of each journey's. */
  thresholds: Record<string, number> | null;
}

export interface ClosedPeriod {
  from: Date;
  to: Date;
}

export interface DigestJourney {
  journey: JourneyInfo;
  report: JourneyReport;
  /** The report of the period of the same length just before. */
  previous: JourneyReport;
  thresholds: Thresholds;
  flags: Flag[];
}

export interface Digest {
  tz: string;
  periodDays: number;
  period: ClosedPeriod;
  previousPeriod: ClosedPeriod;
  periodLabel: string;
  previousLabel: string;
  /** "all" digests list every journey; a one-journey digest whose journey is gone has none. */
  scope: { kind: 'all' } | { kind: 'journey'; journeyId: string };
  journeys: DigestJourney[];
}

/**
 * The last `days` full days in `tz` before `at`: from local midnight `days` days before the day of `at`, to
 * local midnight starting that day. Counted in calendar days, so a daylight-saving change inside keeps it whole.
 */
export function digestPeriod(at: Date, tz: string, days: number): ClosedPeriod {
  if (!isValidTimeZone(tz)) throw new PeriodError(`"${tz}" is not an IANA time zone (like Europe/Istanbul or UTC)`);
  if (!Number.isInteger(days) || days < 1 || days > MAX_PERIOD_DAYS) {
    throw new PeriodError(`A digest covers 1 to ${MAX_PERIOD_DAYS} whole days, not ${days}.`);
  }
  const end = DateTime.fromJSDate(at, { zone: tz }).startOf('day');
  return { from: end.minus({ days }).toJSDate(), to: end.toJSDate() };
}

/** The same number of calendar days just before (so a week is compared with the week before it). */
export function previousDigestPeriod(period: ClosedPeriod, tz: string, days: number): ClosedPeriod {
  const from = DateTime.fromJSDate(period.from, { zone: tz });
  return { from: from.minus({ days }).toJSDate(), to: period.from };
}

export async function computeDigest(db: Db, request: DigestRequest): Promise<Digest> {
  const { tz, periodDays } = request;
  const period = digestPeriod(request.at, tz, periodDays);
  const previousPeriod = previousDigestPeriod(period, tz, periodDays);
  const ids = request.journeyId === null ? (await listJourneyNames(db)).map((j) => j.journeyId) : [request.journeyId];
  const journeys: DigestJourney[] = [];
  for (const id of ids) {
    const journey = await loadJourney(db, id);
    if (!journey) continue;
    const report = await computeReport(db, journey, period);
    const previous = await computeReport(db, journey, previousPeriod);
    const thresholds = resolveThresholds({ ...(journey.thresholds ?? {}), ...(request.thresholds ?? {}) });
    journeys.push({ journey, report, previous, thresholds, flags: computeFlags(report, journey, thresholds) });
  }
  return {
    tz,
    periodDays,
    period,
    previousPeriod,
    periodLabel: formatPeriodLabel(period, tz),
    previousLabel: formatPeriodLabel(previousPeriod, tz),
    scope: request.journeyId === null ? { kind: 'all' } : { kind: 'journey', journeyId: request.journeyId },
    journeys,
  };
}

/** A count and its change against the previous period. */
export interface CountChange {
  current: number;
  previous: number;
  delta: number;
  /** delta / previous, or null when the previous period had none. */
  relative: number | null;
}

export function countChange(current: number, previous: number): CountChange {
  return { current, previous, delta: current - previous, relative: previous === 0 ? null : (current - previous) / previous };
}

/** A rate (percent) and its change in percentage points; null where a period's rate is n/a. */
export interface RateChange {
  current: number | null;
  previous: number | null;
  points: number | null;
}

export function rateChange(current: number | null, previous: number | null): RateChange {
  return { current, previous, points: current === null || previous === null ? null : current - previous };
}

/** The six headline numbers of SLACK.md's overview with their changes (conversion ones null without a conversion event). */
export interface Headline {
  entries: CountChange;
  entryUsers: CountChange;
  messagesSent: CountChange;
  conversionRate: RateChange | null;
  convertedUsers: CountChange | null;
  exits: CountChange;
}

export function headline(item: Pick<DigestJourney, 'report' | 'previous' | 'journey'>): Headline {
  const now = item.report.overview;
  const before = item.previous.overview;
  const hasConversion = item.journey.conversionEvent !== null;
  return {
    entries: countChange(now.total_entries, before.total_entries),
    entryUsers: countChange(now.entry_users, before.entry_users),
    messagesSent: countChange(now.messages_sent, before.messages_sent),
    conversionRate: hasConversion ? rateChange(now.conversion_rate, before.conversion_rate) : null,
    convertedUsers: hasConversion ? countChange(now.converted_users ?? 0, before.converted_users ?? 0) : null,
    exits: countChange(now.total_exits, before.total_exits),
  };
}
