// Digest schedules: reads what people type ("daily 09:00", "weekly mon 09:00", a 5-field cron) and computes when
// runs fall in a time zone, daylight-saving changes included. Pure: the clock is always a parameter.
import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import { isValidTimeZone } from './periods.js';

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export const SCHEDULE_HELP =
  '`daily 09:00`, `weekdays 08:30`, `weekly mon 09:00`, or a 5-field cron in quotes like `"0 9 * * 1"` (minute hour day-of-month month day-of-week)';

/** A schedule as stored: what was typed, and the 5-field cron it means. */
export interface ParsedSchedule {
  /** Normalised text people read back ("daily 09:00", or the cron itself). */
  text: string;
  cron: string;
}

/** The cron fields expanded to sets, as the occurrence search reads them. */
export interface CompiledSchedule {
  cron: string;
  minutes: readonly number[];
  hours: readonly number[];
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  daysOfWeek: ReadonlySet<number>;
  dayOfMonthIsWildcard: boolean;
  dayOfWeekIsWildcard: boolean;
}

const DAY_NAMES: Record<string, number> = {
  sun: 0, sunday: 0, mon: 1, monday: 1, tue: 2, tues: 2, tuesday: 2, wed: 3, wednesday: 3,
  thu: 4, thur: 4, thurs: 4, thursday: 4, fri: 5, friday: 5, sat: 6, saturday: 6,
};
const DAY_SHORT = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/**
 * Standard cron only: numbers, *, lists, ranges, steps and three-letter month and day names. L, W, #, H and ?
 * (extensions some libraries accept) would not be matched by this module, so they are refused.
 */
const CRON_NAMES = new Set(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec', ...DAY_SHORT]);
function isPlainCronField(field: string): boolean {
  return field.split(/[,/-]/).every((part) => part === '*' || /^\d+$/.test(part) || CRON_NAMES.has(part.toLowerCase()));
}

/**
 * Parses a schedule. Throws ScheduleError with a message people can act on.
 * A digest runs at most once an hour, so a cron's minute field must be one number.
 */
export function parseSchedule(input: string): ParsedSchedule {
  const words = input.trim().toLowerCase().split(/\s+/).filter((w) => w !== '');
  const [kind, ...rest] = words;
  if (kind === undefined) throw new ScheduleError(`Which schedule? Use ${SCHEDULE_HELP}.`);
  if (kind === 'daily' || kind === 'weekdays') {
    const [time, extra] = rest;
    if (time === undefined || extra !== undefined) throw new ScheduleError(`"${input.trim()}": give one time, like \`${kind} 09:00\`.`);
    const { hour, minute } = parseClock(time);
    const text = `${kind} ${clock(hour, minute)}`;
    return { text, cron: `${minute} ${hour} * * ${kind === 'daily' ? '*' : '1-5'}` };
  }
  if (kind === 'weekly') {
    const [day, time, extra] = rest;
    const dow = day === undefined ? undefined : DAY_NAMES[day];
    if (dow === undefined || time === undefined || extra !== undefined) {
      throw new ScheduleError(`"${input.trim()}": give a day and a time, like \`weekly mon 09:00\`.`);
    }
    const { hour, minute } = parseClock(time);
    return { text: `weekly ${DAY_SHORT[dow]} ${clock(hour, minute)}`, cron: `${minute} ${hour} * * ${dow}` };
  }
  if (words.length === 5) {
    const cron = words.join(' ');
    compileSchedule(cron);
    return { text: cron, cron };
  }
  throw new ScheduleError(`"${input.trim()}" is not a schedule. Use ${SCHEDULE_HELP}.`);
}

function parseClock(text: string): { hour: number; minute: number } {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (!match || hour > 23 || minute > 59) throw new ScheduleError(`"${text}" is not a time of day: use 24-hour HH:MM, like 09:00 or 17:30.`);
  return { hour, minute };
}

function clock(hour: number, minute: number): string {
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

/** Validates a 5-field cron with cron-parser and expands its fields. Throws ScheduleError. */
export function compileSchedule(cron: string): CompiledSchedule {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) throw new ScheduleError(`"${cron}" has ${fields.length} fields; a cron has 5: minute hour day-of-month month day-of-week.`);
  const odd = fields.find((f) => !isPlainCronField(f));
  if (odd !== undefined) throw new ScheduleError(`"${odd}" in "${cron}" is not plain cron: use numbers, names, *, commas, ranges (1-5) and steps (*/2).`);
  let parsed;
  try {
    parsed = CronExpressionParser.parse(fields.join(' ')).fields;
  } catch (err) {
    throw new ScheduleError(`"${cron}" is not a valid cron: ${(err as Error).message.replace(/\.$/, '')}.`);
  }
  const numbers = (values: ReadonlyArray<number | string>) => values.filter((v): v is number => typeof v === 'number');
  const minutes = numbers(parsed.minute.values);
  if (minutes.length !== 1) {
    throw new ScheduleError(`"${cron}" runs more than once an hour; a digest runs at most hourly, so give the minute as one number (like \`0 9 * * 1\`).`);
  }
  return {
    cron: fields.join(' '),
    minutes,
    hours: numbers(parsed.hour.values),
    daysOfMonth: new Set(numbers(parsed.dayOfMonth.values)),
    months: new Set(numbers(parsed.month.values)),
    // cron-parser lists Sunday as both 0 and 7.
    daysOfWeek: new Set(numbers(parsed.dayOfWeek.values).map((d) => d % 7)),
    dayOfMonthIsWildcard: parsed.dayOfMonth.isWildcard,
    dayOfWeekIsWildcard: parsed.dayOfWeek.isWildcard,
  };
}

/** Vixie cron's rule: when both day fields are restricted, a date matching either runs. */
function dayMatches(s: CompiledSchedule, day: DateTime): boolean {
  if (!s.months.has(day.month)) return false;
  const dom = s.daysOfMonth.has(day.day);
  const dow = s.daysOfWeek.has(day.weekday % 7);
  if (s.dayOfMonthIsWildcard && s.dayOfWeekIsWildcard) return true;
  if (s.dayOfMonthIsWildcard) return dow;
  if (s.dayOfWeekIsWildcard) return dom;
  return dom || dow;
}

/**
 * The instants a local date's runs fall on, ascending. Computed here rather than with cron-parser's prev(),
 * which across a daylight-saving change skips the spring day and repeats the autumn one. The rule:
 * a wall-clock time that does not exist (the spring gap) runs when the clocks have moved on (02:30 → 03:30);
 * a wall-clock time that happens twice (autumn) runs once, the first time.
 */
function runsOnDay(s: CompiledSchedule, tz: string, day: DateTime): Date[] {
  if (!dayMatches(s, day)) return [];
  const instants = new Set<number>();
  for (const hour of s.hours) {
    for (const minute of s.minutes) {
      const local = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour, minute }, { zone: tz });
      const first = Math.min(...local.getPossibleOffsets().map((d) => d.toMillis()), local.toMillis());
      instants.add(first);
    }
  }
  return [...instants].sort((a, b) => a - b).map((ms) => new Date(ms));
}

/** Far enough back to find a run of any valid cron (29 February can be 8 years apart). */
const MAX_LOOKBACK_DAYS = 366 * 9;

function checkZone(tz: string): void {
  if (!isValidTimeZone(tz)) throw new ScheduleError(`"${tz}" is not an IANA time zone (like Europe/Istanbul or UTC).`);
}

/** The most recent run at or before `now`, in the schedule's zone; null when none in the last nine years. */
export function mostRecentRun(schedule: CompiledSchedule, tz: string, now: Date): Date | null {
  checkZone(tz);
  let day = DateTime.fromJSDate(now, { zone: tz }).startOf('day');
  for (let i = 0; i <= MAX_LOOKBACK_DAYS; i++, day = day.minus({ days: 1 })) {
    const runs = runsOnDay(schedule, tz, day).filter((t) => t.getTime() <= now.getTime());
    const last = runs.at(-1);
    if (last !== undefined) return last;
  }
  return null;
}

/** The first run strictly after `after` (for "next post" in answers); null when none within nine years. */
export function nextRun(schedule: CompiledSchedule, tz: string, after: Date): Date | null {
  checkZone(tz);
  let day = DateTime.fromJSDate(after, { zone: tz }).startOf('day');
  for (let i = 0; i <= MAX_LOOKBACK_DAYS; i++, day = day.plus({ days: 1 })) {
    const first = runsOnDay(schedule, tz, day).find((t) => t.getTime() > after.getTime());
    if (first !== undefined) return first;
  }
  return null;
}

/**
 * Runs strictly between `after` and `before`, ascending: the runs missed while nothing was running. At most
 * `limit`, the most recent ones, so a long outage does not produce an unbounded list.
 */
export function runsBetween(schedule: CompiledSchedule, tz: string, after: Date, before: Date, limit = 1000): Date[] {
  checkZone(tz);
  const found: Date[] = [];
  const stop = DateTime.fromJSDate(after, { zone: tz }).startOf('day');
  let day = DateTime.fromJSDate(before, { zone: tz }).startOf('day');
  while (day >= stop && found.length < limit) {
    const runs = runsOnDay(schedule, tz, day).filter((t) => t > after && t < before).reverse();
    for (const t of runs) if (found.length < limit) found.push(t);
    day = day.minus({ days: 1 });
  }
  return found.reverse();
}

/** "daily 09:00 (Europe/Istanbul)". */
export function describeSchedule(text: string, tz: string): string {
  return `${text} (${tz})`;
}
