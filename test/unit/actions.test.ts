// The button contract: action ids listeners match, and values that survive a round trip or decode to null.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACTION_ID_PATTERNS,
  ACTION_IDS,
  actionBase,
  actionId,
  actionValueFor,
  decodeActionValue,
  encodeActionValue,
  EXPORT_KINDS,
  periodOfActionValue,
  STEP_USER_STATUSES,
  type ActionValue,
} from '../../reports/blocks/actions.js';

const week = { from: new Date('2026-10-31T21:00:00.000Z'), to: new Date('2026-11-07T21:00:00.000Z'), tz: 'Europe/Istanbul' };

describe('action ids', () => {
  const cases = [
    { input: actionId(ACTION_IDS.steps), want: { id: 'journey_steps', base: 'journey_steps', pattern: 'steps' } },
    {
      input: actionId(ACTION_IDS.export, 'converted-users'),
      want: { id: 'journey_export:converted-users', base: 'journey_export', pattern: 'export' },
    },
    {
      input: actionId(ACTION_IDS.export, 'step-users', 'failed'),
      want: { id: 'journey_export:step-users:failed', base: 'journey_export', pattern: 'export' },
    },
    { input: actionId(ACTION_IDS.campaignReport), want: { id: 'campaign_report', base: 'campaign_report', pattern: 'campaignReport' } },
  ] as const;
  it.each(cases)('$want.id', ({ input, want }) => {
    expect(input).toBe(want.id);
    expect(actionBase(input)).toBe(want.base);
    for (const [name, pattern] of Object.entries(ACTION_ID_PATTERNS)) expect(pattern.test(input)).toBe(name === want.pattern);
  });

  it.each(['journey_stepsx', 'other', 'journey_export_x', ''])('"%s" is not ours', (id) => {
    expect(actionBase(id)).toBeNull();
    for (const pattern of Object.values(ACTION_ID_PATTERNS)) expect(pattern.test(id)).toBe(false);
  });
});

describe('action values', () => {
  const cases: Array<{ name: string; input: ActionValue; want: string }> = [
    {
      name: 'all time',
      input: actionValueFor('welcome', { from: null, to: null, tz: 'UTC' }),
      want: '{"j":"welcome","from":null,"to":null,"tz":"UTC"}',
    },
    {
      name: 'an export over a week',
      input: actionValueFor('welcome', week, { x: 'conversion-events' }),
      want: '{"j":"welcome","from":"2026-10-31T21:00:00.000Z","to":"2026-11-07T21:00:00.000Z","tz":"Europe/Istanbul","x":"conversion-events"}',
    },
    {
      name: 'step users by status',
      input: actionValueFor('welcome', week, { x: 'step-users', s: 's1', st: 'failed' }),
      want: '{"j":"welcome","from":"2026-10-31T21:00:00.000Z","to":"2026-11-07T21:00:00.000Z","tz":"Europe/Istanbul","x":"step-users","s":"s1","st":"failed"}',
    },
  ];
  it.each(cases)('$name encodes compactly and decodes back', ({ input, want }) => {
    expect(encodeActionValue(input)).toBe(want);
    expect(decodeActionValue(want)).toEqual(input);
  });

  it('gives back the period as dates', () => {
    const value = decodeActionValue(encodeActionValue(actionValueFor('welcome', week)));
    expect(value && periodOfActionValue(value)).toEqual({ from: week.from, to: week.to });
  });

  const bad = [
    { name: 'undefined', input: undefined },
    { name: 'not JSON', input: '{j:welcome' },
    { name: 'JSON but not an object', input: '"welcome"' },
    { name: 'missing tz', input: '{"j":"w","from":null,"to":null}' },
    { name: 'unknown time zone', input: '{"j":"w","from":null,"to":null,"tz":"Mars/Olympus"}' },
    { name: 'empty journey', input: '{"j":"","from":null,"to":null,"tz":"UTC"}' },
    { name: 'a date that is not ISO', input: '{"j":"w","from":"yesterday","to":null,"tz":"UTC"}' },
    { name: 'from after to', input: '{"j":"w","from":"2026-11-02T00:00:00.000Z","to":"2026-11-01T00:00:00.000Z","tz":"UTC"}' },
    { name: 'unknown export kind', input: '{"j":"w","from":null,"to":null,"tz":"UTC","x":"passwords"}' },
    { name: 'step-users without a status', input: '{"j":"w","from":null,"to":null,"tz":"UTC","x":"step-users","s":"s1"}' },
    { name: 'step-users without a step', input: '{"j":"w","from":null,"to":null,"tz":"UTC","x":"step-users","st":"sent"}' },
    { name: 'a status without step-users', input: '{"j":"w","from":null,"to":null,"tz":"UTC","x":"entries","st":"sent"}' },
    { name: 'unknown status', input: '{"j":"w","from":null,"to":null,"tz":"UTC","x":"step-users","s":"s1","st":"opened"}' },
    { name: 'an extra key', input: '{"j":"w","from":null,"to":null,"tz":"UTC","admin":true}' },
    { name: 'longer than Slack allows', input: `{"j":"${'w'.repeat(2100)}","from":null,"to":null,"tz":"UTC"}` },
  ];
  it.each(bad)('$name → null', ({ input }) => expect(decodeActionValue(input)).toBeNull());

  it('round-trips any value within the import limits, always ≤ 2000 characters', () => {
    // The import caps ids at 100 UTF-16 units, which is what zod counts.
    const id = (max: number) =>
      fc.string({ minLength: 1, maxLength: max, unit: 'binary' }).filter((s) => s.length <= max);
    const date = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true });
    const extra = fc.oneof(
      fc.constant({}),
      fc.constantFrom(...EXPORT_KINDS.filter((k) => k !== 'step-users')).map((x) => ({ x })),
      fc.record({ s: id(100), st: fc.constantFrom(...STEP_USER_STATUSES) }).map((r) => ({ x: 'step-users' as const, ...r })),
    );
    fc.assert(
      fc.property(id(100), fc.option(date), fc.option(date), extra, (j, a, b, more) => {
        const [from, to] = a && b && a > b ? [b, a] : [a, b];
        if (from && to && from.getTime() === to.getTime()) return;
        const value = actionValueFor(j, { from, to, tz: 'America/Argentina/ComodRivadavia' }, more);
        const text = encodeActionValue(value);
        expect(text.length).toBeLessThanOrEqual(2000);
        expect(decodeActionValue(text)).toEqual(value);
      }),
    );
  });
});
