// Interpretation flags at and around every threshold, threshold overrides, and parsing of threshold arguments.
import { describe, expect, it } from 'vitest';
import {
  computeFlags,
  DEFAULT_THRESHOLDS,
  parseThresholdArgs,
  resolveThresholds,
  type Flag,
  type Thresholds,
} from '../../reports/flags.js';
import type { JourneyInfo, JourneyReport, StepKind, StepReport } from '../../reports/report-types.js';

function stepReport(id: string, kind: StepKind, counts: Partial<StepReport> = {}): StepReport {
  return {
    step_id: id,
    name: `Step ${id}`,
    kind,
    entry_count: 0,
    entry_users: 0,
    sent: 0,
    failed: 0,
    shown: 0,
    clicked: 0,
    platforms: {},
    outcomes: {},
    exits: 0,
    ...counts,
  };
}

interface Scenario {
  steps: Array<{ report: StepReport; next: string[] }>;
  overview?: Partial<JourneyReport['overview']>;
  conversionEvent?: string | null;
}

function build(s: Scenario): { report: JourneyReport; info: JourneyInfo } {
  const report: JourneyReport = {
    journey: { journey_id: 'j', name: 'Journey' },
    period: { from: null, to: null },
    overview: {
      messages_sent: 0,
      total_entries: 0,
      entry_users: 0,
      converted_users: 0,
      conversion_events: 0,
      conversion_rate: null,
      total_exits: 0,
      exits_before_first_step: 0,
      ...s.overview,
    },
    steps: s.steps.map((x) => x.report),
  };
  const info: JourneyInfo = {
    journeyId: 'j',
    name: 'Journey',
    conversionEvent: s.conversionEvent === undefined ? 'purchase' : s.conversionEvent,
    attributionWindowHours: 24,
    reentry: true,
    thresholds: null,
    steps: s.steps.map((x) => ({ stepId: x.report.step_id, name: x.report.name, kind: x.report.kind, campaignId: null, next: x.next })),
  };
  return { report, info };
}

const kinds = (flags: Flag[]) => flags.map((f) => `${f.kind}:${f.stepId ?? 'journey'}`);

describe('drop flag: drop × 100 > threshold (40 by default)', () => {
  // 1,000 users at a; b sees `to` of them.
  const cases = [
    { name: 'just below (39.9 %)', input: { to: 601 }, want: [] },
    { name: 'equal (40 %) is not above', input: { to: 600 }, want: [] },
    { name: 'just above (40.1 %)', input: { to: 599 }, want: ['drop:a'] },
    { name: 'everyone dropped (100 %)', input: { to: 0 }, want: ['drop:a'] },
    { name: 'more arrive than left (negative drop)', input: { to: 1500 }, want: [] },
  ];
  it.each(cases)('$name', ({ input, want }) => {
    const { report, info } = build({
      steps: [
        { report: stepReport('a', 'wait', { entry_count: 1000, entry_users: 1000 }), next: ['b'] },
        { report: stepReport('b', 'wait', { entry_count: input.to, entry_users: input.to }), next: [] },
      ],
    });
    expect(kinds(computeFlags(report, info, DEFAULT_THRESHOLDS))).toEqual(want);
  });

  it('is not raised for a step nobody entered, nor for a last step', () => {
    const { report, info } = build({
      steps: [
        { report: stepReport('a', 'wait'), next: ['b'] },
        { report: stepReport('b', 'wait', { entry_users: 50 }), next: [] },
      ],
    });
    expect(computeFlags(report, info, DEFAULT_THRESHOLDS)).toEqual([]);
  });

  it('names the step, its next step and the figures', () => {
    const { report, info } = build({
      steps: [
        { report: stepReport('a', 'push', { name: 'Welcome push', entry_users: 8 }), next: ['b'] },
        { report: stepReport('b', 'email', { name: 'Welcome email', entry_users: 3 }), next: [] },
      ],
    });
    expect(computeFlags(report, info, DEFAULT_THRESHOLDS)).toEqual([
      {
        kind: 'drop',
        stepId: 'a',
        stepName: 'Welcome push',
        message: '*Welcome push* → *Welcome email*: 62.5% drop (8 → 3 users; threshold 40%)',
        value: 62.5,
        threshold: 40,
      },
    ]);
  });

  it('a branch sums its next steps and says "next steps"', () => {
    const { report, info } = build({
      steps: [
        { report: stepReport('a', 'condition', { name: 'Opened app?', entry_users: 10 }), next: ['b', 'c'] },
        { report: stepReport('b', 'email', { name: 'Email', entry_users: 2 }), next: [] },
        { report: stepReport('c', 'sms', { name: 'SMS', entry_users: 3 }), next: [] },
      ],
    });
    const [flag] = computeFlags(report, info, DEFAULT_THRESHOLDS);
    expect(flag?.message).toBe('*Opened app?* → next steps (*Email*, *SMS*): 50.0% drop (10 → 5 users; threshold 40%)');
  });
});

describe('failure flag: failed / (sent + failed) × 100 > threshold (10 by default)', () => {
  const cases = [
    { name: 'just below (9.9 %)', input: { sent: 901, failed: 99 }, want: [] },
    { name: 'equal (10 %) is not above', input: { sent: 900, failed: 100 }, want: [] },
    { name: 'equal on a small step (1 of 10)', input: { sent: 9, failed: 1 }, want: [] },
    { name: 'just above (10.1 %)', input: { sent: 899, failed: 101 }, want: ['failure:a'] },
    { name: 'no attempts: rate n/a, no flag', input: { sent: 0, failed: 0 }, want: [] },
    { name: 'all failed', input: { sent: 0, failed: 3 }, want: ['failure:a'] },
  ];
  it.each(cases)('$name', ({ input, want }) => {
    const { report, info } = build({ steps: [{ report: stepReport('a', 'sms', input), next: [] }] });
    expect(kinds(computeFlags(report, info, DEFAULT_THRESHOLDS))).toEqual(want);
  });

  it('says what failed', () => {
    const { report, info } = build({
      steps: [{ report: stepReport('a', 'push', { name: 'Welcome push', sent: 2, failed: 1 }), next: [] }],
    });
    const [flag] = computeFlags(report, info, DEFAULT_THRESHOLDS);
    expect(flag?.message).toBe('*Welcome push*: 33.3% of sends failed (1 failed, 2 sent; threshold 10%)');
    expect(flag?.value).toBeCloseTo(100 / 3);
  });
});

describe('low click rate flag: sent ≥ min_sent (100) and clicked / sent × 100 < ctr (1)', () => {
  const cases = [
    { name: 'just below (0.9 %)', input: { kind: 'push', sent: 1000, clicked: 9 }, want: ['low_ctr:a'] },
    { name: 'equal (1 %) is not low', input: { kind: 'push', sent: 1000, clicked: 10 }, want: [] },
    { name: 'just above (1.1 %)', input: { kind: 'email', sent: 1000, clicked: 11 }, want: [] },
    { name: 'sent just below min_sent (99)', input: { kind: 'push', sent: 99, clicked: 0 }, want: [] },
    { name: 'sent equal to min_sent (100)', input: { kind: 'email', sent: 100, clicked: 0 }, want: ['low_ctr:a'] },
    { name: 'sent just above min_sent (101)', input: { kind: 'push', sent: 101, clicked: 1 }, want: ['low_ctr:a'] },
    { name: 'sms has no clicks to judge', input: { kind: 'sms', sent: 1000, clicked: 0 }, want: [] },
    { name: 'in_app has no clicks to judge', input: { kind: 'in_app', sent: 1000, clicked: 0 }, want: [] },
  ] as const;
  it.each(cases)('$name', ({ input, want }) => {
    const { report, info } = build({
      steps: [{ report: stepReport('a', input.kind, { sent: input.sent, clicked: input.clicked }), next: [] }],
    });
    expect(kinds(computeFlags(report, info, DEFAULT_THRESHOLDS))).toEqual(want);
  });

  it('says the click rate and the volume', () => {
    const { report, info } = build({
      steps: [{ report: stepReport('a', 'email', { name: 'Promo', sent: 12000, clicked: 60 }), next: [] }],
    });
    expect(computeFlags(report, info, DEFAULT_THRESHOLDS)[0]?.message).toBe(
      '*Promo*: 0.5% click rate (60 clicked of 12,000 sent; threshold 1%)',
    );
  });

  it('does not divide by zero when min_sent is 0 and nothing was sent', () => {
    const { report, info } = build({ steps: [{ report: stepReport('a', 'push'), next: [] }] });
    expect(computeFlags(report, info, { ...DEFAULT_THRESHOLDS, min_sent: 0 })).toEqual([]);
  });
});

describe('low conversion flag: conversion event set, total_entries ≥ min_entries (100), rate < conversion (2)', () => {
  const overview = (entries: number, users: number, converted: number) => ({
    total_entries: entries,
    entry_users: users,
    converted_users: converted,
    conversion_rate: users === 0 ? null : (converted / users) * 100,
  });
  const cases = [
    { name: 'just below (1.9 %)', input: { overview: overview(1000, 1000, 19) }, want: ['low_conversion:journey'] },
    { name: 'equal (2 %) is not low', input: { overview: overview(1000, 1000, 20) }, want: [] },
    { name: 'equal on a small journey (2 of 100)', input: { overview: overview(100, 100, 2) }, want: [] },
    { name: 'just above (2.1 %)', input: { overview: overview(1000, 1000, 21) }, want: [] },
    { name: 'entries just below min_entries (99)', input: { overview: overview(99, 99, 0) }, want: [] },
    { name: 'entries equal to min_entries (100)', input: { overview: overview(100, 90, 0) }, want: ['low_conversion:journey'] },
    { name: 'entries just above min_entries (101)', input: { overview: overview(101, 101, 1) }, want: ['low_conversion:journey'] },
    {
      name: 'no conversion event: nothing to judge',
      input: { overview: { ...overview(1000, 1000, 0), converted_users: null, conversion_rate: null }, conversionEvent: null },
      want: [],
    },
  ];
  it.each(cases)('$name', ({ input, want }) => {
    const { report, info } = build({ steps: [], overview: input.overview, conversionEvent: input.conversionEvent });
    expect(kinds(computeFlags(report, info, DEFAULT_THRESHOLDS))).toEqual(want);
  });

  it('is journey-level, first, and says the figures', () => {
    const { report, info } = build({
      steps: [{ report: stepReport('a', 'sms', { sent: 0, failed: 5 }), next: [] }],
      overview: overview(250, 200, 3),
    });
    const flags = computeFlags(report, info, DEFAULT_THRESHOLDS);
    expect(kinds(flags)).toEqual(['low_conversion:journey', 'failure:a']);
    expect(flags[0]).toMatchObject({
      stepId: null,
      stepName: null,
      message: 'Conversion rate 1.5% (3 of 200 users, 250 entries; threshold 2%)',
      value: 1.5,
      threshold: 2,
    });
  });
});

describe('the worked example with default thresholds', () => {
  it('flags the push failures and the email → SMS drop', () => {
    const { report, info } = build({
      steps: [
        {
          report: stepReport('s1', 'push', { name: 'Welcome push', entry_count: 7, entry_users: 6, sent: 2, failed: 1, clicked: 1 }),
          next: ['s2'],
        },
        {
          report: stepReport('s2', 'email', { name: 'Welcome email', entry_count: 4, entry_users: 4, sent: 1, shown: 2 }),
          next: ['s3'],
        },
        { report: stepReport('s3', 'sms', { name: 'Reminder SMS', entry_count: 1, entry_users: 1, sent: 1 }), next: [] },
      ],
      overview: { total_entries: 11, entry_users: 9, converted_users: 6, conversion_rate: 66.66666666666666 },
    });
    expect(computeFlags(report, info, DEFAULT_THRESHOLDS).map((f) => f.message)).toEqual([
      '*Welcome push*: 33.3% of sends failed (1 failed, 2 sent; threshold 10%)',
      // 6 → 4 is a 33.3 % drop: under 40 %, no flag for s1.
      '*Welcome email* → *Reminder SMS*: 75.0% drop (4 → 1 users; threshold 40%)',
    ]);
  });
});

describe('resolveThresholds', () => {
  const cases: Array<{ name: string; input: Record<string, number> | null; want: Thresholds }> = [
    { name: 'null: the defaults', input: null, want: { ...DEFAULT_THRESHOLDS } },
    { name: 'overrides merge over defaults', input: { drop: 25, min_sent: 500 }, want: { ...DEFAULT_THRESHOLDS, drop: 25, min_sent: 500 } },
    { name: 'unknown keys are ignored', input: { dorp: 5, ctr: 0.5 }, want: { ...DEFAULT_THRESHOLDS, ctr: 0.5 } },
    { name: 'out-of-range values are ignored', input: { drop: 140, failure: -1, min_entries: 2.5 }, want: { ...DEFAULT_THRESHOLDS } },
    { name: 'zero is a valid setting', input: { conversion: 0 }, want: { ...DEFAULT_THRESHOLDS, conversion: 0 } },
  ];
  it.each(cases)('$name', ({ input, want }) => expect(resolveThresholds(input)).toEqual(want));

  it('a journey threshold changes what is flagged', () => {
    const { report, info } = build({
      steps: [
        { report: stepReport('a', 'wait', { entry_users: 10 }), next: ['b'] },
        { report: stepReport('b', 'wait', { entry_users: 7 }), next: [] },
      ],
    });
    expect(computeFlags(report, info, resolveThresholds(null))).toEqual([]);
    expect(kinds(computeFlags(report, info, resolveThresholds({ drop: 29.9 })))).toEqual(['drop:a']);
    expect(computeFlags(report, info, resolveThresholds({ drop: 30 }))).toEqual([]);
  });

  it('does not let callers change the defaults', () => {
    expect(Object.isFrozen(DEFAULT_THRESHOLDS)).toBe(true);
    const resolved = resolveThresholds(null);
    resolved.drop = 1;
    expect(DEFAULT_THRESHOLDS.drop).toBe(40);
  });
});

describe('parseThresholdArgs', () => {
  const ok = [
    { input: 'drop=40 failure=10 ctr=1 conversion=2', want: { drop: 40, failure: 10, ctr: 1, conversion: 2 } },
    { input: 'drop=25', want: { drop: 25 } },
    { input: '  ctr=0.5,conversion=1.25  ', want: { ctr: 0.5, conversion: 1.25 } },
    { input: 'DROP=30%', want: { drop: 30 } },
    { input: 'min_sent=500 min_entries=0', want: { min_sent: 500, min_entries: 0 } },
    { input: 'drop=0 failure=100', want: { drop: 0, failure: 100 } },
  ];
  it.each(ok)('"$input" → $want', ({ input, want }) => expect(parseThresholdArgs(input)).toEqual({ ok: true, thresholds: want }));

  const errors = [
    { input: '', want: 'No thresholds given. Example: `drop=40 failure=10 ctr=1 conversion=2 min_sent=100 min_entries=100`' },
    { input: 'dorp=40', want: 'Unknown threshold "dorp". Known: drop, failure, ctr, conversion, min_sent, min_entries.' },
    { input: 'drop=abc', want: 'drop must be a number, got "abc".' },
    { input: 'drop=', want: 'drop must be a number, got "".' },
    { input: 'ctr=0x10', want: 'ctr must be a number, got "0x10".' },
    { input: 'failure=1e2', want: 'failure must be a number, got "1e2".' },
    { input: 'drop=100.1', want: 'drop is a percentage and must be between 0 and 100, got 100.1.' },
    { input: 'conversion=-1', want: 'conversion is a percentage and must be between 0 and 100, got -1.' },
    { input: 'min_sent=10.5', want: 'min_sent is a count and must be a whole number of 0 or more, got 10.5.' },
    { input: 'min_sent=50%', want: 'min_sent must be a number, got "50%".' },
    { input: 'drop40', want: '"drop40" is not key=value. Example: `drop=40 failure=10 ctr=1 conversion=2 min_sent=100 min_entries=100`' },
    { input: 'drop=40 drop=30', want: 'drop is given more than once.' },
  ];
  it.each(errors)('"$input" → $want', ({ input, want }) => expect(parseThresholdArgs(input)).toEqual({ ok: false, error: want }));
});
