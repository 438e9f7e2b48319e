// The hand-written fast path of parseEventLine against the zod schemas: same verdict, same event, for valid lines
// and near-misses of every field.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalMs, parseEventLine, parseTimestamp, parseTimestampByPattern, parseWithSchemas } from '../../db/import/parse-event.js';

type Json = Record<string, unknown>;

const journeyEntry: Json = { type: 'journey_entry', event_id: 'ev-1', journey_id: 'welcome', entry_id: 'en-1', external_id: 'u-42', at: '2026-11-01T09:00:00Z' };
const stepEntry: Json = { type: 'step_entry', event_id: 'ev-2', journey_id: 'welcome', entry_id: 'en-1', step_id: 's1', at: '2026-11-01T09:00:01Z' };

describe('the fast path for event lines', () => {
  // Valid lines and near-misses of every field: parseEventLine (fast path first) must say what the schemas say.
  const bases: Json[] = [
    journeyEntry,
    stepEntry,
    { type: 'message', event_id: 'm', journey_id: 'welcome', entry_id: 'en-1', step_id: 's1', status: 'failed', platform: 'iOS', reason: 'bounced', at: '2026-11-01T09:00:02+03:00' },
    { type: 'step_outcome', event_id: 'o', journey_id: 'welcome', entry_id: 'en-1', step_id: 's9', outcome: 'ok', at: '2026-11-01T09:00:03Z' },
    { type: 'journey_exit', event_id: 'x', journey_id: 'welcome', entry_id: 'en-1', at: '2026-11-02T12:00:00Z', reason: 'completed' },
    { type: 'conversion', event_id: 'c', external_id: 'u-42', event: 'purchase', at: '2026-11-02T18:00:00.123Z' },
  ];
  const oddValues: unknown[] = [undefined, null, '', 'x', 'x'.repeat(100), 'x'.repeat(101), 'x'.repeat(200), 'x'.repeat(201), 'x'.repeat(501), 'a b', 'sent', 'clicked', 'SENT', 7, true, [], {}, '2026-11-01T09:00:00', '2026-11-01T09:00:00.1234Z', '2026-02-30T09:00:00Z'];
  it('accepts and rejects exactly what the schemas accept and reject, with the same event', () => {
    for (const base of bases) {
      for (const key of [...Object.keys(base), 'platform', 'reason', 'extra']) {
        if (key === 'type') continue;
        for (const value of oddValues) {
          const line: Json = { ...base };
          if (value === undefined) delete line[key];
          else line[key] = value;
          const got = parseEventLine(JSON.stringify(line));
          const want = parseWithSchemas(JSON.parse(JSON.stringify(line)), base.type as Parameters<typeof parseWithSchemas>[1]);
          expect({ key, value, got }).toEqual({ key, value, got: want });
        }
      }
    }
  });
});

describe('the canonical timestamp reader', () => {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  it('reads every instant of years 1000–9999 as Date and the pattern do, with and without milliseconds', () => {
    const from = Date.UTC(1000, 0, 1);
    const to = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), (ms) => {
        const iso = new Date(ms).toISOString();
        const seconds = `${iso.slice(0, 19)}Z`;
        expect(canonicalMs(iso)).toBe(ms);
        expect(parseTimestampByPattern(iso)).toEqual({ ok: true, ms });
        expect(canonicalMs(seconds)).toBe(ms - (ms % 1000 + 1000) % 1000);
        expect(parseTimestampByPattern(seconds)).toEqual({ ok: true, ms: canonicalMs(seconds) });
      }),
      { numRuns: 20_000 },
    );
  });

  it('never accepts what the pattern rejects, nor reads a value the pattern reads otherwise', () => {
    // Any digits in the canonical shapes: impossible months, days (30 February, 29 February of 1900), hours.
    const digits = (width: number, max: number) => fc.integer({ min: 0, max }).map((n) => pad(n, width));
    const shaped = fc
      .tuple(digits(4, 9999), digits(2, 19), digits(2, 39), digits(2, 29), digits(2, 69), digits(2, 69), fc.option(digits(3, 999), { nil: undefined }))
      .map(([y, mo, d, h, mi, s, milli]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${milli === undefined ? '' : `.${milli}`}Z`);
    const odd = fc.constantFrom('2026-11-01T09:00:00z', '2026-11-01t09:00:00Z', '2026-11-01T09:00Z', '2026-11-01T09:00:00.1Z', '2026-11-01T09:00:00+00:00', '２026-11-01T09:00:00Z', '2026-11-01T09:00:0aZ', '0999-12-31T23:59:59Z', '0000-01-01T00:00:00Z');
    fc.assert(
      fc.property(fc.oneof(shaped, odd), (value) => {
        const ms = canonicalMs(value);
        const byPattern = parseTimestampByPattern(value);
        if (ms !== null) expect(byPattern).toEqual({ ok: true, ms });
        expect(parseTimestamp(value)).toEqual(byPattern);
      }),
      { numRuns: 50_000 },
    );
    expect(canonicalMs('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(canonicalMs('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29));
    for (const impossible of ['1900-02-29T00:00:00Z', '2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-11-01T24:00:00Z', '2026-13-01T00:00:00Z']) {
      expect(canonicalMs(impossible)).toBeNull();
      expect(parseTimestamp(impossible)).toMatchObject({ ok: false });
    }
  });
});
