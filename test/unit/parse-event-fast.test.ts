// The hand-written fast path of parseEventLine against the zod schemas: same verdict, same event, for valid lines
// and near-misses of every field.
import { describe, expect, it } from 'vitest';
import { parseEventLine, parseWithSchemas } from '../../db/import/parse-event.js';

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
