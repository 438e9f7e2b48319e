// Table tests of parseEventLine against every shape rule of EVENTS.md: what is accepted, and why the rest is not.
import { describe, expect, it } from 'vitest';
import { parseEventLine, type ImportEvent } from '../../db/import/parse-event.js';

type Json = Record<string, unknown>;

const journey: Json = {
  type: 'journey',
  journey_id: 'welcome',
  name: 'Welcome series',
  conversion_event: 'purchase',
  attribution_window_hours: 24,
  reentry: true,
  steps: [
    { step_id: 's1', name: 'Welcome push', kind: 'push', campaign_id: 'cmp-101', next: ['s2'] },
    { step_id: 's2', name: 'Wait 1 day', kind: 'wait', next: ['s3'] },
    { step_id: 's3', name: 'Has opened app?', kind: 'condition', next: ['s4', 's5'] },
    { step_id: 's4', name: 'Welcome email', kind: 'email', campaign_id: 'cmp-102', next: [] },
    { step_id: 's5', name: 'Reminder SMS', kind: 'sms', campaign_id: 'cmp-103', next: [] },
  ],
};
const journeyEntry: Json = {
  type: 'journey_entry',
  event_id: 'ev-1',
  journey_id: 'welcome',
  entry_id: 'en-1',
  external_id: 'u-42',
  at: '2026-11-01T09:00:00Z',
};
const stepEntry: Json = { type: 'step_entry', event_id: 'ev-2', journey_id: 'welcome', entry_id: 'en-1', step_id: 's1', at: '2026-11-01T09:00:01Z' };
const message: Json = {
  type: 'message',
  event_id: 'ev-3',
  journey_id: 'welcome',
  entry_id: 'en-1',
  step_id: 's1',
  status: 'sent',
  platform: 'ios',
  at: '2026-11-01T09:00:02Z',
};
const stepOutcome: Json = {
  type: 'step_outcome',
  event_id: 'ev-4',
  journey_id: 'welcome',
  entry_id: 'en-1',
  step_id: 's9',
  outcome: 'webhook_ok',
  at: '2026-11-01T09:00:03Z',
};
const journeyExit: Json = {
  type: 'journey_exit',
  event_id: 'ev-5',
  journey_id: 'welcome',
  entry_id: 'en-1',
  at: '2026-11-02T12:00:00Z',
  reason: 'completed',
};
const conversion: Json = { type: 'conversion', event_id: 'ev-6', external_id: 'u-42', event: 'purchase', at: '2026-11-02T18:00:00Z' };

const examples: Record<string, Json> = {
  journey,
  journey_entry: journeyEntry,
  step_entry: stepEntry,
  message,
  step_outcome: stepOutcome,
  journey_exit: journeyExit,
  conversion,
};

function accepted(line: string | Json): ImportEvent {
  const result = parseEventLine(typeof line === 'string' ? line : JSON.stringify(line));
  if (!result.ok) throw new Error(`expected the line to be accepted, got: ${result.reason}`);
  return result.event;
}

function rejection(line: string | Json): string {
  const result = parseEventLine(typeof line === 'string' ? line : JSON.stringify(line));
  if (result.ok) throw new Error(`expected the line to be rejected, got ${JSON.stringify(result.event)}`);
  return result.reason;
}

function without(object: Json, field: string): Json {
  const copy = { ...object };
  delete copy[field];
  return copy;
}

const atAs = (at: string): Json => ({ ...conversion, at });

describe('the examples of EVENTS.md', () => {
  it.each(Object.entries(examples))('accepts the %s example', (type, line) => {
    expect(accepted(line).type).toBe(type);
  });
});

describe('lines that are not an event object', () => {
  it.each([
    { input: '{"type":"conversion",', want: /JSON/ },
    { input: 'hello', want: /JSON/ },
    { input: '', want: /JSON/ },
    { input: '[{"type":"conversion"}]', want: /object/ },
    { input: '42', want: /object/ },
    { input: 'null', want: /object/ },
    { input: '"journey"', want: /object/ },
  ])('rejects $input', ({ input, want }) => {
    expect(rejection(input)).toMatch(want);
  });

  it.each([
    { input: { event_id: 'ev-1' }, want: /missing.*"type"/ },
    { input: { ...conversion, type: 'purchase' }, want: /unknown type "purchase"/ },
    { input: { ...conversion, type: 'Conversion' }, want: /unknown type "Conversion"/ },
    { input: { ...conversion, type: 7 }, want: /unknown type 7/ },
  ])('rejects type $input.type', ({ input, want }) => {
    expect(rejection(input)).toMatch(want);
  });
});

const requiredFields: Record<string, string[]> = {
  journey: ['journey_id', 'name', 'conversion_event', 'attribution_window_hours', 'reentry', 'steps'],
  journey_entry: ['event_id', 'journey_id', 'entry_id', 'external_id', 'at'],
  step_entry: ['event_id', 'journey_id', 'entry_id', 'step_id', 'at'],
  message: ['event_id', 'journey_id', 'entry_id', 'step_id', 'status', 'at'],
  step_outcome: ['event_id', 'journey_id', 'entry_id', 'step_id', 'outcome', 'at'],
  journey_exit: ['event_id', 'journey_id', 'entry_id', 'at'],
  conversion: ['event_id', 'external_id', 'event', 'at'],
};

describe('a missing field is named in the reason', () => {
  const cases = Object.entries(requiredFields).flatMap(([type, fields]) => fields.map((field) => ({ type, field })));
  it.each(cases)('$type without $field', ({ type, field }) => {
    const reason = rejection(without(examples[type]!, field));
    expect(reason).toContain(`"${field}"`);
    // An enum field may instead list its allowed values, which tells the person just as much.
    expect(reason).toMatch(field === 'status' ? /missing|sent, failed, shown, clicked/ : /missing/);
  });

  it.each(['step_id', 'name', 'kind'])('a step without %s', (field) => {
    const steps = [without({ step_id: 's1', name: 'Welcome push', kind: 'push', next: [] }, field)];
    expect(rejection({ ...journey, steps })).toContain(`steps[0].${field}`);
  });
});

describe('a field of the wrong type is named, and not called missing', () => {
  it.each([
    { type: 'journey_entry', field: 'at', value: 1_793_523_600_000 },
    { type: 'journey_entry', field: 'external_id', value: 42 },
    { type: 'step_entry', field: 'step_id', value: ['s1'] },
    { type: 'message', field: 'platform', value: 7 },
    { type: 'conversion', field: 'event_id', value: 6 },
    { type: 'journey', field: 'attribution_window_hours', value: '24' },
    { type: 'journey', field: 'attribution_window_hours', value: null },
    { type: 'journey', field: 'reentry', value: 'yes' },
    { type: 'journey', field: 'steps', value: { s1: 'push' } },
  ])('$type with $field = $value', ({ type, field, value }) => {
    const reason = rejection({ ...examples[type], [field]: value });
    expect(reason).toContain(`"${field}"`);
    expect(reason).not.toMatch(/missing/);
  });
});

describe('identifier lengths', () => {
  it.each([
    { type: 'journey_entry', field: 'event_id' },
    { type: 'conversion', field: 'event_id' },
    { type: 'journey_entry', field: 'external_id' },
    { type: 'conversion', field: 'external_id' },
  ])('$type $field: 1 and 200 characters are accepted, 0 and 201 are not', ({ type, field }) => {
    const line = examples[type]!;
    expect(accepted({ ...line, [field]: 'x' })).toMatchObject({ [field]: 'x' });
    expect(accepted({ ...line, [field]: 'x'.repeat(200) })).toMatchObject({ [field]: 'x'.repeat(200) });
    expect(rejection({ ...line, [field]: '' })).toContain(`"${field}"`);
    expect(rejection({ ...line, [field]: 'x'.repeat(201) })).toMatch(new RegExp(`"${field}".*200`));
  });

  it('external_id is case-sensitive and kept as written', () => {
    expect(accepted({ ...conversion, external_id: 'User-ABC' })).toMatchObject({ external_id: 'User-ABC' });
  });
});

describe('text a database cannot hold', () => {
  // JSON.stringify writes U+0000 and a lone surrogate as \u escapes, as a producer of such lines would.
  it.each([
    { type: 'journey_entry', field: 'entry_id' },
    { type: 'journey_entry', field: 'external_id' },
    { type: 'step_entry', field: 'event_id' },
    { type: 'message', field: 'step_id' },
    { type: 'journey_exit', field: 'reason' },
    { type: 'conversion', field: 'event' },
  ])('$type $field with U+0000 is rejected, naming the field and the character', ({ type, field }) => {
    expect(rejection({ ...examples[type]!, [field]: 'a\u0000b' })).toBe(
      `field "${field}" contains the character U+0000 (NUL), which cannot be stored as text: remove it`,
    );
  });

  it.each(['\ud800', 'x\udfff', '\udc00\ud800'])('half of a surrogate pair (%j) is rejected, naming the field', (value) => {
    expect(rejection({ ...journeyEntry, external_id: value })).toMatch(/^field "external_id" contains half of a surrogate pair/);
  });

  it('is found inside a journey definition too, with the path to it', () => {
    const steps = journey.steps as Json[];
    const broken = { ...journey, steps: [steps[0], { ...steps[1], name: 'Wait\u0000' }, ...steps.slice(2)] };
    expect(rejection(broken)).toMatch(/^field "steps\[1\]\.name" contains the character U\+0000/);
  });

  it('whole surrogate pairs and other escapes are text like any other', () => {
    expect(accepted('{"type":"conversion","event_id":"\\ud83d\\ude00","external_id":"caf\\u00e9","event":"p\\u0001","at":"2026-11-01T09:00:00Z"}')).toMatchObject({
      event_id: '😀',
      external_id: 'café',
      event: 'p\u0001',
    });
  });
});

describe('journey_id: 1–100 characters of [A-Za-z0-9._-]', () => {
  it.each(['w', 'Welcome_series-2.v1', 'a'.repeat(100)])('accepts %s', (journeyId) => {
    expect(accepted({ ...journeyEntry, journey_id: journeyId })).toMatchObject({ journey_id: journeyId });
    expect(accepted({ ...journey, journey_id: journeyId })).toMatchObject({ journey_id: journeyId });
  });

  it.each(['welcome series', 'wélcome', 'a/b', 'a:b', 'a'.repeat(101), ''])('rejects "%s"', (journeyId) => {
    expect(rejection({ ...journeyEntry, journey_id: journeyId })).toContain('"journey_id"');
    expect(rejection({ ...journey, journey_id: journeyId })).toContain('"journey_id"');
  });

  it('rejects a 201-character journey name', () => {
    expect(rejection({ ...journey, name: 'n'.repeat(201) })).toContain('"name"');
  });
});

describe('timestamps: ISO-8601 with a zone, millisecond precision or coarser', () => {
  it.each([
    { at: '2026-11-01T09:00:00Z', utc: '2026-11-01T09:00:00.000Z' },
    { at: '2026-11-01T09:00:00+03:00', utc: '2026-11-01T06:00:00.000Z' },
    { at: '2026-11-01T09:00:00-05:30', utc: '2026-11-01T14:30:00.000Z' },
    { at: '2026-11-01T09:00Z', utc: '2026-11-01T09:00:00.000Z' },
    { at: '2026-11-01T09:00+01:00', utc: '2026-11-01T08:00:00.000Z' },
    { at: '2026-11-01T09:00:00.1Z', utc: '2026-11-01T09:00:00.100Z' },
    { at: '2026-11-01T09:00:00.12Z', utc: '2026-11-01T09:00:00.120Z' },
    { at: '2026-11-01T09:00:00.123Z', utc: '2026-11-01T09:00:00.123Z' },
    { at: '2026-11-01T00:30:00.5+01:00', utc: '2026-10-31T23:30:00.500Z' },
    { at: '2028-02-29T12:00:00Z', utc: '2028-02-29T12:00:00.000Z' },
  ])('accepts $at as $utc', ({ at, utc }) => {
    const event = accepted(atAs(at));
    expect(event.type === 'conversion' && event.at.toISOString()).toBe(utc);
  });

  it.each(['2026-11-01T09:00:00', '2026-11-01T09:00', '2026-11-01T09:00:00.123'])(
    'rejects %s: no time zone',
    (at) => {
      const reason = rejection(atAs(at));
      expect(reason).toContain('"at"');
      expect(reason).toMatch(/time zone/);
    },
  );

  it('rejects four fraction digits (finer than a millisecond)', () => {
    const reason = rejection(atAs('2026-11-01T09:00:00.1234Z'));
    expect(reason).toContain('"at"');
    expect(reason).toMatch(/millisecond/);
  });

  it.each([
    '2026-02-30T09:00:00Z',
    '2026-02-29T09:00:00Z',
    '2026-13-01T09:00:00Z',
    '2026-11-31T09:00:00Z',
    '2026-11-01T25:00:00Z',
    '2026-11-01T09:60:00Z',
  ])('rejects %s: no such date or time', (at) => {
    expect(rejection(atAs(at))).toContain('"at"');
  });

  it.each(['0000-06-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '9999-12-31T23:30:00-01:00'])(
    'rejects %s: outside the years 0001–9999 in UTC',
    (at) => {
      const reason = rejection(atAs(at));
      expect(reason).toContain('"at"');
      expect(reason).toMatch(/years 0001 to 9999/);
    },
  );

  it.each([
    { at: '0001-01-01T00:00:00Z', utc: '0001-01-01T00:00:00.000Z' },
    { at: '9999-12-31T23:59:59.999Z', utc: '9999-12-31T23:59:59.999Z' },
    { at: '0001-01-01T01:30:00+01:00', utc: '0001-01-01T00:30:00.000Z' },
  ])('accepts the edge $at', ({ at, utc }) => {
    const event = accepted(atAs(at));
    expect(event.type === 'conversion' && event.at.toISOString()).toBe(utc);
  });

  it.each(['2026-11-01', 'yesterday', '', '2026-11-01 09:00:00 UTC', '01/11/2026 09:00Z'])('rejects "%s": not ISO-8601', (at) => {
    expect(rejection(atAs(at))).toContain('"at"');
  });

  it.each(Object.keys(requiredFields).filter((type) => type !== 'journey'))('checks the timestamp of %s too', (type) => {
    expect(rejection({ ...examples[type], at: '2026-11-01T09:00:00' })).toMatch(/"at".*time zone/);
  });
});

describe('message status and platform', () => {
  it.each(['sent', 'failed', 'shown', 'clicked'])('accepts status %s', (status) => {
    expect(accepted({ ...message, status })).toMatchObject({ status });
  });

  it.each(['opened', 'delivered', ''])('rejects status "%s"', (status) => {
    const reason = rejection({ ...message, status });
    expect(reason).toContain('"status"');
    expect(reason).toMatch(/sent, failed, shown, clicked/);
  });

  it.each([
    { platform: 'ios', counted: 'ios' },
    { platform: 'iOS', counted: 'ios' },
    { platform: 'IOS', counted: 'ios' },
    { platform: 'Android', counted: 'android' },
    { platform: 'WEB', counted: 'web' },
    { platform: 'Windows', counted: 'other' },
    { platform: 'huawei', counted: 'other' },
  ])('platform "$platform" counts as $counted', ({ platform, counted }) => {
    expect(accepted({ ...message, platform })).toMatchObject({ platform: counted });
  });

  it.each(['', '   ', 'x'.repeat(101), 'x'.repeat(5000)])('any other platform string (%#: empty, blank, long) counts as other: the message is kept', (platform) => {
    expect(accepted({ ...message, platform })).toMatchObject({ platform: 'other' });
  });

  it('a message without a platform has none', () => {
    expect(accepted(without(message, 'platform'))).toMatchObject({ platform: null });
  });

  it('a failed message may carry a reason of up to 500 characters', () => {
    const reason = 'r'.repeat(500);
    expect(accepted({ ...message, status: 'failed', reason })).toMatchObject({ status: 'failed', reason });
    expect(rejection({ ...message, status: 'failed', reason: `${reason}r` })).toMatch(/"reason".*500/);
  });

  it('an exit reason longer than 500 characters is rejected', () => {
    expect(accepted({ ...journeyExit, reason: 'r'.repeat(500) }).type).toBe('journey_exit');
    expect(rejection({ ...journeyExit, reason: 'r'.repeat(501) })).toMatch(/"reason".*500/);
  });
});

describe('journey settings and steps', () => {
  it.each([0, 0.5, 24, 720])('accepts attribution_window_hours %d', (hours) => {
    expect(accepted({ ...journey, attribution_window_hours: hours })).toMatchObject({ attribution_window_hours: hours });
  });

  it.each([
    { hours: -1, want: /0 or more/ },
    { hours: -0.5, want: /0 or more/ },
  ])('rejects attribution_window_hours $hours', ({ hours, want }) => {
    const reason = rejection({ ...journey, attribution_window_hours: hours });
    expect(reason).toContain('"attribution_window_hours"');
    expect(reason).toMatch(want);
  });

  it('accepts conversion_event null (no conversion metrics)', () => {
    expect(accepted({ ...journey, conversion_event: null })).toMatchObject({ conversion_event: null });
  });

  it.each(['push', 'email', 'sms', 'in_app', 'custom', 'wait', 'condition', 'split'])('accepts step kind %s', (kind) => {
    const steps = [{ step_id: 's1', name: 'A step', kind, next: [] }];
    expect(accepted({ ...journey, steps })).toMatchObject({ steps: [{ step_id: 's1', kind }] });
  });

  it.each(['fax', 'Push', 'webhook', ''])('rejects step kind "%s"', (kind) => {
    const steps = [{ step_id: 's1', name: 'A step', kind, next: [] }];
    const reason = rejection({ ...journey, steps });
    expect(reason).toContain('steps[0].kind');
    expect(reason).toMatch(/push, email, sms, in_app, custom, wait, condition, split/);
  });

  it('keeps the display order of steps and their branches', () => {
    expect(accepted(journey)).toMatchObject({
      steps: [
        { step_id: 's1', next: ['s2'] },
        { step_id: 's2', next: ['s3'] },
        { step_id: 's3', next: ['s4', 's5'] },
        { step_id: 's4', next: [] },
        { step_id: 's5', next: [] },
      ],
    });
  });

  it('rejects a step id used twice, naming it', () => {
    const steps = [
      { step_id: 's1', name: 'Welcome push', kind: 'push', next: [] },
      { step_id: 's1', name: 'Welcome email', kind: 'email', next: [] },
    ];
    expect(rejection({ ...journey, steps })).toMatch(/"s1".*twice/);
  });

  it('rejects a next that names no step of the journey, naming both steps', () => {
    const steps = [
      { step_id: 's1', name: 'Welcome push', kind: 'push', next: ['s2'] },
      { step_id: 's2', name: 'Welcome email', kind: 'email', next: ['s3'] },
    ];
    const reason = rejection({ ...journey, steps });
    expect(reason).toContain('"s2"');
    expect(reason).toContain('"s3"');
  });
});

describe('lines that are not JSON say why, and where', () => {
  it.each([
    { line: '{"type":"conversion",}', reason: 'not valid JSON (at character 22 of 22)' },
    { line: '{"type":"conversion"', reason: 'not valid JSON (the line ends before the JSON does)' },
    { line: 'hello', reason: 'not valid JSON (a line is one JSON object, starting with {)' },
    { line: '{"type":"conversion"} trailing', reason: 'not valid JSON (at character 23 of 30)' },
  ])('$line', ({ line, reason }) => {
    expect(rejection(line)).toBe(reason);
  });
});

describe("a journey's size", () => {
  const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ step_id: `s${i}`, name: `Step ${i}`, kind: 'push', next: [] }));
  it('may have 1,000 steps, not more (a line, not the import, is refused)', () => {
    expect(accepted({ ...journey, steps: steps(1000) })).toMatchObject({ type: 'journey' });
    expect(rejection({ ...journey, steps: steps(1001) })).toBe('field "steps" must list at most 1,000 steps');
  });
});
