// Number, rate and period wording people read in Slack.
import { describe, expect, it } from 'vitest';
import {
  clipText,
  escapeMrkdwn,
  formatCode,
  formatCount,
  formatNameList,
  formatPercent,
  formatPercentNear,
  formatPercentOf,
  formatPeriodLabel,
  formatRate,
  formatThreshold,
} from '../../reports/format.js';

describe('formatCount', () => {
  const cases = [
    { input: 0, want: '0' },
    { input: 4, want: '4' },
    { input: 999, want: '999' },
    { input: 1000, want: '1,000' },
    { input: 12345, want: '12,345' },
    { input: 1234567, want: '1,234,567' },
  ];
  it.each(cases)('$input → $want', ({ input, want }) => expect(formatCount(input)).toBe(want));
});

describe('formatRate (fractions)', () => {
  const cases = [
    { input: null, want: 'n/a' },
    { input: Number.NaN, want: 'n/a' },
    { input: Number.POSITIVE_INFINITY, want: 'n/a' },
    { input: 0, want: '0.0%' },
    { input: 0.5, want: '50.0%' },
    { input: 2 / 3, want: '66.7%' },
    { input: 1, want: '100.0%' },
    { input: 1.5, want: '150.0%' },
    { input: 0.00049, want: '0.0%' },
    { input: -0.0001, want: '0.0%' }, // no "-0.0%"
    { input: 123.456, want: '12,345.6%' },
  ];
  it.each(cases)('$input → $want', ({ input, want }) => expect(formatRate(input)).toBe(want));
});

describe('formatPercent (already × 100)', () => {
  const cases = [
    { input: null, want: 'n/a' },
    { input: 66.66666666666666, want: '66.7%' },
    { input: 50, want: '50.0%' },
    { input: 0, want: '0.0%' },
  ];
  it.each(cases)('$input → $want', ({ input, want }) => expect(formatPercent(input)).toBe(want));
});

describe('formatPercentOf', () => {
  const cases = [
    { input: [6, 9, 'users'] as const, want: '66.7% (6 of 9 users)' },
    { input: [1, 2, undefined] as const, want: '50.0% (1 of 2)' },
    { input: [0, 0, 'sent'] as const, want: 'n/a (0 of 0 sent)' },
    { input: [1234, 10000, 'users'] as const, want: '12.3% (1,234 of 10,000 users)' },
  ];
  it.each(cases)('$input → $want', ({ input: [part, whole, noun], want }) =>
    expect(formatPercentOf(part, whole, noun)).toBe(want),
  );
});

describe('formatThreshold', () => {
  const cases = [
    { input: 40, want: '40%' },
    { input: 2.5, want: '2.5%' },
    { input: 0.125, want: '0.13%' },
  ];
  it.each(cases)('$input → $want', ({ input, want }) => expect(formatThreshold(input)).toBe(want));
});

describe('formatPercentNear: never reads as the threshold it was compared with', () => {
  const cases = [
    { input: [75, 40], want: '75.0%' },
    { input: [40, 40], want: '40.0%' },
    { input: [40.04, 40], want: '40.04%' },
    { input: [39.96, 40], want: '39.96%' },
    { input: [40.0001, 40], want: '40.0001%' },
    { input: [0.96, 1], want: '0.96%' },
  ];
  it.each(cases)('$input → $want', ({ input: [value, threshold], want }) =>
    expect(formatPercentNear(value ?? 0, threshold ?? 0)).toBe(want),
  );
});

describe('mrkdwn helpers', () => {
  it.each([
    { input: 'A & B <c>', want: 'A &amp; B &lt;c&gt;' },
    { input: 'plain', want: 'plain' },
  ])('escapeMrkdwn($input)', ({ input, want }) => expect(escapeMrkdwn(input)).toBe(want));

  it.each([
    { input: ['A'], want: '*A*' },
    { input: ['A', 'B'], want: '*A*, *B*' },
    { input: ['A', 'B', 'C', 'D', 'E'], want: '*A*, *B*, *C*, +2 more' },
    { input: ['x<y'], want: '*x&lt;y*' },
  ])('formatNameList($input)', ({ input, want }) => expect(formatNameList(input)).toBe(want));

  it.each([
    { input: 's1', want: '`s1`' },
    { input: 'a`b', want: "`a'b`" },
  ])('formatCode($input)', ({ input, want }) => expect(formatCode(input)).toBe(want));

  it.each([
    { input: ['short', 10], want: 'short' },
    { input: ['exactly10!', 10], want: 'exactly10!' },
    { input: ['longer than ten', 10], want: 'longer th…' },
    { input: ['😀😀😀😀', 3], want: '😀😀…' },
  ] as const)('clipText($input)', ({ input: [text, max], want }) => expect(clipText(text, max)).toBe(want));
});

describe('formatPeriodLabel', () => {
  const d = (iso: string) => new Date(iso);
  const cases = [
    { name: 'no period', input: { period: { from: null, to: null }, tz: 'Europe/Istanbul' }, want: 'all time' },
    {
      name: 'a week in Istanbul (UTC+3): to is exclusive, so the last day shown is the 7th',
      input: { period: { from: d('2026-10-31T21:00:00.000Z'), to: d('2026-11-07T21:00:00.000Z') }, tz: 'Europe/Istanbul' },
      want: '1 Nov 2026 – 7 Nov 2026 (Europe/Istanbul)',
    },
    {
      name: 'one day in UTC',
      input: { period: { from: d('2026-11-01T00:00:00.000Z'), to: d('2026-11-02T00:00:00.000Z') }, tz: 'UTC' },
      want: '1 Nov 2026 (UTC)',
    },
    {
      name: 'a month across the New York DST change (1 Nov 2026)',
      input: { period: { from: d('2026-10-01T04:00:00.000Z'), to: d('2026-11-01T04:00:00.000Z') }, tz: 'America/New_York' },
      want: '1 Oct 2026 – 31 Oct 2026 (America/New_York)',
    },
    {
      name: 'only a start',
      input: { period: { from: d('2026-11-01T00:00:00.000Z'), to: null }, tz: 'UTC' },
      want: 'since 1 Nov 2026 (UTC)',
    },
    {
      name: 'only an end',
      input: { period: { from: null, to: d('2026-11-08T00:00:00.000Z') }, tz: 'UTC' },
      want: 'until 7 Nov 2026 (UTC)',
    },
    {
      name: 'not whole days: times shown',
      input: { period: { from: d('2026-11-01T06:30:00.000Z'), to: d('2026-11-01T15:00:00.000Z') }, tz: 'Europe/Istanbul' },
      want: '1 Nov 2026 09:30 – 1 Nov 2026 18:00 (Europe/Istanbul)',
    },
    {
      name: 'September is "Sep" whatever the host locale',
      input: { period: { from: d('2026-09-01T00:00:00.000Z'), to: d('2026-09-02T00:00:00.000Z') }, tz: 'UTC' },
      want: '1 Sep 2026 (UTC)',
    },
  ];
  it.each(cases)('$name', ({ input, want }) => expect(formatPeriodLabel(input.period, input.tz)).toBe(want));

  it('rejects an unknown time zone', () => {
    expect(() => formatPeriodLabel({ from: d('2026-11-01T00:00:00.000Z'), to: null }, 'Mars/Olympus')).toThrow(
      /Unknown time zone "Mars\/Olympus"/,
    );
  });
});
