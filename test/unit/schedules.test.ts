// Digest schedules: what people type, and when runs fall across time zones and daylight-saving changes.
import { describe, expect, it } from 'vitest';
import { compileSchedule, mostRecentRun, nextRun, parseSchedule, runsBetween, ScheduleError } from '../../reports/schedules.js';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;
const daily = (hhmm: string) => compileSchedule(parseSchedule(`daily ${hhmm}`).cron);

describe('parseSchedule', () => {
  it.each([
    { input: 'daily 09:00', text: 'daily 09:00', cron: '0 9 * * *' },
    { input: 'Daily 9:05', text: 'daily 09:05', cron: '5 9 * * *' },
    { input: 'weekdays 08:30', text: 'weekdays 08:30', cron: '30 8 * * 1-5' },
    { input: 'weekly mon 09:00', text: 'weekly mon 09:00', cron: '0 9 * * 1' },
    { input: 'weekly Sunday 23:59', text: 'weekly sun 23:59', cron: '59 23 * * 0' },
    { input: '0 9 * * 1', text: '0 9 * * 1', cron: '0 9 * * 1' },
    { input: '  30   7 1,15 * *  ', text: '30 7 1,15 * *', cron: '30 7 1,15 * *' },
    { input: '0 9-17/4 * * mon-fri', text: '0 9-17/4 * * mon-fri', cron: '0 9-17/4 * * mon-fri' },
  ])('"$input" → $cron', ({ input, text, cron }) => {
    expect(parseSchedule(input)).toEqual({ text, cron });
  });

  it.each([
    ['', /Which schedule/],
    ['daily', /give one time/],
    ['daily 25:00', /not a time of day/],
    ['daily 9', /not a time of day/],
    ['daily 09:00 10:00', /give one time/],
    ['weekly funday 09:00', /give a day and a time/],
    ['hourly', /not a schedule/],
    ['*/15 * * * *', /more than once an hour/],
    ['0,30 9 * * *', /more than once an hour/],
    ['61 9 * * *', /not a valid cron/],
    ['0 9 31 2 *', /day of month/],
    ['0 9 L * *', /not plain cron/],
    ['0 0 9 * * 1', /not a schedule/],
  ])('refuses %j', (input, message) => {
    expect(() => parseSchedule(input)).toThrow(ScheduleError);
    expect(() => parseSchedule(input)).toThrow(message);
  });
});

describe('mostRecentRun', () => {
  it('counts a run at exactly now as due, and one a millisecond later as not', () => {
    const s = daily('09:00');
    expect(iso(mostRecentRun(s, 'UTC', at('2026-11-03T09:00:00.000Z')))).toBe('2026-11-03T09:00:00.000Z');
    expect(iso(mostRecentRun(s, 'UTC', at('2026-11-03T08:59:59.999Z')))).toBe('2026-11-02T09:00:00.000Z');
  });

  it.each([
    // 09:00 in Istanbul (UTC+3 all year) is 06:00 UTC
    { tz: 'Europe/Istanbul', now: '2026-11-03T06:30:00Z', want: '2026-11-03T06:00:00.000Z' },
    { tz: 'Europe/Istanbul', now: '2026-11-03T05:59:00Z', want: '2026-11-02T06:00:00.000Z' },
    // 09:00 in Tokyo (UTC+9) is 00:00 UTC the same day
    { tz: 'Asia/Tokyo', now: '2026-11-03T00:00:00Z', want: '2026-11-03T00:00:00.000Z' },
    // 09:00 in Los Angeles (UTC−8 in November) is 17:00 UTC
    { tz: 'America/Los_Angeles', now: '2026-11-03T16:00:00Z', want: '2026-11-02T17:00:00.000Z' },
  ])('daily 09:00 in $tz at $now → $want', ({ tz, now, want }) => {
    expect(iso(mostRecentRun(daily('09:00'), tz, at(now)))).toBe(want);
  });

  it('weekdays skip the weekend; weekly runs on its day', () => {
    const weekdays = compileSchedule(parseSchedule('weekdays 08:30').cron);
    // Sunday 8 Nov 2026, 12:00 UTC → Friday 6 Nov 08:30
    expect(iso(mostRecentRun(weekdays, 'UTC', at('2026-11-08T12:00:00Z')))).toBe('2026-11-06T08:30:00.000Z');
    const weekly = compileSchedule(parseSchedule('weekly mon 09:00').cron);
    // Monday 9 Nov 2026 in Berlin (UTC+1): 08:00 UTC
    expect(iso(mostRecentRun(weekly, 'Europe/Berlin', at('2026-11-09T07:59:00Z')))).toBe('2026-11-02T08:00:00.000Z');
    expect(iso(mostRecentRun(weekly, 'Europe/Berlin', at('2026-11-09T08:00:00Z')))).toBe('2026-11-09T08:00:00.000Z');
  });

  it('when both day fields are set, either one matching is enough (as cron does)', () => {
    // the 1st of the month or any Monday; Sunday 1 Nov 2026 and Monday 2 Nov 2026 both run
    const s = compileSchedule('0 9 1 * mon');
    expect(runsBetween(s, 'UTC', at('2026-10-31T00:00:00Z'), at('2026-11-10T00:00:00Z')).map(iso)).toEqual([
      '2026-11-01T09:00:00.000Z',
      '2026-11-02T09:00:00.000Z',
      '2026-11-09T09:00:00.000Z',
    ]);
  });

  it('finds a run years back (29 February)', () => {
    const s = compileSchedule('0 9 29 2 *');
    expect(iso(mostRecentRun(s, 'UTC', at('2027-01-01T00:00:00Z')))).toBe('2024-02-29T09:00:00.000Z');
    expect(iso(nextRun(s, 'UTC', at('2027-01-01T00:00:00Z')))).toBe('2028-02-29T09:00:00.000Z');
  });
});

describe('daylight-saving changes', () => {
  // Europe/Berlin: clocks go 02:00 → 03:00 on Sunday 29 March 2026 and 03:00 → 02:00 on Sunday 25 October 2026.
  it('keeps 09:00 Berlin time across the spring change (08:00 UTC before, 07:00 UTC after)', () => {
    const runs = runsBetween(daily('09:00'), 'Europe/Berlin', at('2026-03-27T00:00:00Z'), at('2026-03-31T00:00:00Z'));
    expect(runs.map(iso)).toEqual([
      '2026-03-27T08:00:00.000Z',
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
  });

  it('runs a time that the spring change skips once, when the clocks have moved on (02:30 → 03:30)', () => {
    const s = daily('02:30');
    const runs = runsBetween(s, 'Europe/Berlin', at('2026-03-27T00:00:00Z'), at('2026-03-31T00:00:00Z'));
    // 27 and 28 March 02:30 CET = 01:30 UTC; 29 March 02:30 does not exist → 03:30 CEST = 01:30 UTC; 30 March 02:30 CEST = 00:30 UTC
    expect(runs.map(iso)).toEqual([
      '2026-03-27T01:30:00.000Z',
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // looking back from just after the change finds that same run (no day is skipped going backwards)
    expect(iso(mostRecentRun(s, 'Europe/Berlin', at('2026-03-29T12:00:00Z')))).toBe('2026-03-29T01:30:00.000Z');
  });

  it('runs a time that the autumn change repeats once, the first time', () => {
    const s = daily('02:30');
    const runs = runsBetween(s, 'Europe/Berlin', at('2026-10-23T12:00:00Z'), at('2026-10-27T12:00:00Z'));
    // 24 Oct 02:30 CEST = 00:30 UTC; 25 Oct 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET): only the first
    expect(runs.map(iso)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
    // between the two 02:30s the most recent run is the first one, and it is not due again an hour later
    expect(iso(mostRecentRun(s, 'Europe/Berlin', at('2026-10-25T01:45:00Z')))).toBe('2026-10-25T00:30:00.000Z');
  });

  it('keeps 09:00 New York time across both of its changes', () => {
    // America/New_York: 8 March 2026 to EDT (UTC−4), 1 November 2026 back to EST (UTC−5)
    const s = daily('09:00');
    expect(runsBetween(s, 'America/New_York', at('2026-03-07T00:00:00Z'), at('2026-03-09T23:00:00Z')).map(iso)).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
    expect(runsBetween(s, 'America/New_York', at('2026-10-31T00:00:00Z'), at('2026-11-02T23:00:00Z')).map(iso)).toEqual([
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
    // 01:30 happens twice on 1 November: the first (EDT, 05:30 UTC) is the run
    expect(iso(mostRecentRun(daily('01:30'), 'America/New_York', at('2026-11-01T07:00:00Z')))).toBe('2026-11-01T05:30:00.000Z');
  });

  it('an hourly cron over the autumn change has one run per wall-clock hour', () => {
    const hourly = compileSchedule('0 * * * *');
    const runs = runsBetween(hourly, 'Europe/Berlin', at('2026-10-24T23:30:00Z'), at('2026-10-25T03:30:00Z'));
    // local 02:00 repeats; it runs at its first occurrence only
    expect(runs.map(iso)).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  });
});

describe('runsBetween', () => {
  it('excludes both ends and keeps only the most recent `limit` runs', () => {
    const s = daily('09:00');
    const after = at('2026-11-01T09:00:00Z');
    const before = at('2026-11-05T09:00:00Z');
    expect(runsBetween(s, 'UTC', after, before).map(iso)).toEqual([
      '2026-11-02T09:00:00.000Z',
      '2026-11-03T09:00:00.000Z',
      '2026-11-04T09:00:00.000Z',
    ]);
    expect(runsBetween(s, 'UTC', after, before, 2).map(iso)).toEqual(['2026-11-03T09:00:00.000Z', '2026-11-04T09:00:00.000Z']);
    expect(runsBetween(s, 'UTC', before, after)).toEqual([]);
  });

  it('refuses an unknown time zone', () => {
    expect(() => mostRecentRun(daily('09:00'), 'Mars/Olympus', at('2026-11-01T00:00:00Z'))).toThrow(/not an IANA time zone/);
  });
});
