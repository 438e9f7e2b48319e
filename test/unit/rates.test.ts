// Derived rates of METRICS.md, including the zero denominators that must read "n/a", never 0 %, NaN or Infinity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRate } from '../../reports/format.js';
import { clickRate, continuation, continuationCounts, drop, failureRate, ratio } from '../../reports/rates.js';
import type { JourneyInfo, JourneyReport, StepReport } from '../../reports/report-types.js';

const counts = (sent: number, failed: number, clicked: number) => ({ sent, failed, clicked });

describe('clickRate = clicked / sent', () => {
  const cases = [
    { input: counts(2, 1, 1), want: 0.5, shown: '50.0%' },
    { input: counts(3, 0, 0), want: 0, shown: '0.0%' },
    { input: counts(0, 5, 0), want: null, shown: 'n/a' }, // nothing sent
    { input: counts(0, 0, 0), want: null, shown: 'n/a' },
    { input: counts(3, 0, 2), want: 2 / 3, shown: '66.7%' },
  ];
  it.each(cases)('$input → $want ($shown)', ({ input, want, shown }) => {
    expect(clickRate(input)).toBe(want);
    expect(formatRate(clickRate(input))).toBe(shown);
  });
});

describe('failureRate = failed / (sent + failed)', () => {
  const cases = [
    { input: counts(2, 1, 0), want: 1 / 3, shown: '33.3%' },
    { input: counts(0, 4, 0), want: 1, shown: '100.0%' },
    { input: counts(9, 0, 0), want: 0, shown: '0.0%' },
    { input: counts(0, 0, 0), want: null, shown: 'n/a' }, // no attempts
  ];
  it.each(cases)('$input → $want ($shown)', ({ input, want, shown }) => {
    expect(failureRate(input)).toBe(want);
    expect(formatRate(failureRate(input))).toBe(shown);
  });
});

function step(id: string, entryUsers: number): StepReport {
  return {
    step_id: id,
    name: id,
    kind: 'wait',
    entry_count: entryUsers,
    entry_users: entryUsers,
    sent: 0,
    failed: 0,
    shown: 0,
    clicked: 0,
    platforms: {},
    outcomes: {},
    exits: 0,
  };
}

function journey(next: Record<string, string[]>): Pick<JourneyInfo, 'steps'> {
  return {
    steps: Object.entries(next).map(([stepId, n]) => ({ stepId, name: stepId, kind: 'wait', campaignId: null, next: n })),
  };
}

describe('continuation and drop', () => {
  // a(6) → b(4) → {c(1), d(2)}; c → []; e(0) → c; f → [missing]
  const report: Pick<JourneyReport, 'steps'> = {
    steps: [step('a', 6), step('b', 4), step('c', 1), step('d', 2), step('e', 0), step('f', 5)],
  };
  const info = journey({ a: ['b'], b: ['c', 'd'], c: [], d: ['c', 'c'], e: ['c'], f: ['nowhere'] });
  const cases = [
    { name: 'one next step: 4 of 6', input: 'a', want: { continuation: 4 / 6, drop: 1 - 4 / 6 } },
    { name: 'a branch sums its next steps: (1 + 2) of 4', input: 'b', want: { continuation: 3 / 4, drop: 0.25 } },
    { name: 'last step: not defined', input: 'c', want: { continuation: null, drop: null } },
    { name: 'a repeated next step counts once: 1 of 2', input: 'd', want: { continuation: 0.5, drop: 0.5 } },
    { name: 'nobody entered: n/a, not 0 % or NaN', input: 'e', want: { continuation: null, drop: null } },
    { name: 'a next step missing from the report counts 0 users', input: 'f', want: { continuation: 0, drop: 1 } },
    { name: 'a step the journey does not list has no next steps', input: 'zz', want: { continuation: null, drop: null } },
  ];
  it.each(cases)('$name', ({ input, want }) => {
    const s = report.steps.find((x) => x.step_id === input) ?? step(input, 3);
    expect(continuation(s, report, info)).toBe(want.continuation);
    expect(drop(s, report, info)).toBe(want.drop);
  });

  it('continuation can exceed 1 when next steps are also reached from elsewhere', () => {
    const r = { steps: [step('x', 2), step('y', 5)] };
    expect(continuation(r.steps[0] ?? step('x', 2), r, journey({ x: ['y'] }))).toBe(2.5);
  });

  it('continuationCounts reports the users on both sides', () => {
    expect(continuationCounts(step('b', 4), report, info)).toEqual({ fromUsers: 4, toUsers: 3, nextStepIds: ['c', 'd'] });
  });
});

describe('ratio never yields NaN or Infinity', () => {
  it('holds for any counts', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (part, whole) => {
        const r = ratio(part, whole);
        return whole === 0 ? r === null : r !== null && Number.isFinite(r);
      }),
    );
  });
});
