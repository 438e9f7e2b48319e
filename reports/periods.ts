// Turns the periods people type (today, 7d, last-month, 2026-11-01..2026-11-07) into UTC [from, to) in their time zone.
import { DateTime, IANAZone } from 'luxon';
import type { Period } from './report-types.js';

export const PERIOD_WORDS = ['today', 'yesterday', '7d', '30d', 'this-month', 'last-month'] as const;
export const PERIOD_HELP = `${PERIOD_WORDS.join(', ')}, or a date range like 2026-11-01..2026-11-07 (inclusive)`;

const MIN_YEAR = 1970;
const MAX_YEAR = 2999;
/** The instants a period may start or end at, for periods given as instants (the CLI's --from and --to). */
export const PERIOD_BOUNDS = {
  first: new Date(Date.UTC(MIN_YEAR, 0, 1)),
  end: new Date(Date.UTC(MAX_YEAR + 1, 0, 1)),
  text: `${MIN_YEAR}-01-01 to ${MAX_YEAR}-12-31`,
} as const;

export class PeriodError extends Error {
  override name = 'PeriodError';
}

export function isValidTimeZone(tz: string): boolean {
  return IANAZone.isValidZone(tz);
}

/** True when the text looks like a period (so a command parser can tell it from a step id). */
export function looksLikePeriod(text: string): boolean {
  const t = text.toLowerCase();
  return (PERIOD_WORDS as readonly string[]).includes(t) || /^\d+d$/.test(t) || t.includes('..');
}

/**
 * Parses a period in time zone `tz` relative to `now`. Whole days in that zone; `to` is exclusive.
 * `7d` and `30d` are the last 7 / 30 days including today.
 */
export function parsePeriod(text: string, tz: string, now: Date): Period {
  if (!isValidTimeZone(tz)) throw new PeriodError(`"${tz}" is not an IANA time zone (like Europe/Istanbul or UTC)`);
  const t = text.trim().toLowerCase();
  const today = DateTime.fromJSDate(now, { zone: tz }).startOf('day');
  const span = (start: DateTime, endExclusive: DateTime): Period => ({
    from: start.toJSDate(),
    to: endExclusive.toJSDate(),
  });
  switch (t) {
    case 'today':
      return span(today, today.plus({ days: 1 }));
    case 'yesterday':
      return span(today.minus({ days: 1 }), today);
    case 'this-month':
      return span(today.startOf('month'), today.startOf('month').plus({ months: 1 }));
    case 'last-month':
      return span(today.startOf('month').minus({ months: 1 }), today.startOf('month'));
  }
  const days = /^(\d{1,4})d$/.exec(t);
  if (days) {
    const n = Number(days[1]);
    if (n < 1) throw new PeriodError(`"${text}" is not a period: the number of days must be at least 1`);
    return span(today.minus({ days: n - 1 }), today.plus({ days: 1 }));
  }
  const range = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(t);
  if (range) {
    const start = DateTime.fromISO(range[1]!, { zone: tz });
    const end = DateTime.fromISO(range[2]!, { zone: tz });
    if (!start.isValid) throw new PeriodError(`"${range[1]}" is not a real date`);
    if (!end.isValid) throw new PeriodError(`"${range[2]}" is not a real date`);
    // Year 0 and five-digit years have no ISO form the database reads: keep well inside both ends.
    if (start.year < MIN_YEAR || end.year > MAX_YEAR) {
      throw new PeriodError(`"${text}" is outside the dates the app answers for: ${PERIOD_BOUNDS.text}`);
    }
    if (end < start) throw new PeriodError(`"${text}" ends before it starts: put the earlier date first`);
    return span(start, end.plus({ days: 1 }));
  }
  throw new PeriodError(`"${text}" is not a period. Use ${PERIOD_HELP}.`);
}

/** The period of the same length just before `period` (for digests' change against the previous period). */
export function previousPeriod(period: Period): Period | null {
  if (!period.from || !period.to) return null;
  const length = period.to.getTime() - period.from.getTime();
  return { from: new Date(period.from.getTime() - length), to: period.from };
}
