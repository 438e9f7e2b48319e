// Hostile input, property-based: whatever people type or files hold, the parsers answer with a value or a
// specific, bounded message — never a crash, a hang or an echo of a huge input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandSyntaxError, MAX_COMMAND_LENGTH, tokenize } from '../../commands/parse-command.js';
import { parseEventLine } from '../../db/import/parse-event.js';
import { PeriodError, parsePeriod } from '../../reports/periods.js';

const NOW = new Date('2026-11-29T12:00:00Z');

/** Text people (or attackers) might send: any code point, lone surrogates, quotes, SQL, control characters. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', "'", '“', '”', '‘', '’', ' ', '\t', '\n', '\u0000', '\uD800', '\uDFFF', '\u202E', 'a', '..', '-', ';'), maxLength: 30 }),
  fc.constantFrom(
    "x'); drop table users;--",
    '"; select pg_sleep(10); --',
    "' or 1=1 --",
    '$$; delete from journeys; $$',
    '../../../etc/passwd',
    '%00%27',
    '${process.env.SLACK_BOT_TOKEN}',
    '=HYPERLINK("http://evil")',
    '\u0000',
    '9999-99-99..0000-00-00',
    '0000-01-01..9999-12-31',
    '99999d',
    '0d',
  ),
);

/** Words glued into command-shaped text, so the parsers see plausible structure as well as noise. */
const commandText = fc
  .array(fc.oneof(nasty, fc.constantFrom('overview', 'steps', 'step', 'export', 'list', 'help', 'welcome', '7d', 'today', 'entries', 'step-users', 's1', 'failed')), { maxLength: 6 })
  .map((words) => words.join(' '));

describe('tokenize (the text after /journey)', () => {
  it('returns words or throws CommandSyntaxError with a message, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(commandText, nasty), (text) => {
        try {
          const words = tokenize(text);
          expect(Array.isArray(words)).toBe(true);
          for (const w of words) expect(typeof w).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(CommandSyntaxError);
          expect((err as Error).message.length).toBeGreaterThan(10);
          expect((err as Error).message.length).toBeLessThan(300);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a very long text by its length, without echoing it', () => {
    const long = 'overview '.repeat(50_000);
    expect(() => tokenize(long)).toThrow(CommandSyntaxError);
    try {
      tokenize(long);
    } catch (err) {
      expect((err as Error).message).toContain(String(MAX_COMMAND_LENGTH));
      expect((err as Error).message.length).toBeLessThan(200);
    }
  });

  it('keeps an SQL-looking quoted name as one word, unchanged', () => {
    expect(tokenize(`overview "x'); drop table users;--" 7d`)).toEqual(['overview', "x'); drop table users;--", '7d']);
  });
});

describe('parsePeriod', () => {
  it('returns a period with from < to, or throws PeriodError with a message, for any text and zone', () => {
    fc.assert(
      fc.property(fc.oneof(nasty, fc.constantFrom('today', '7d', '1d', '9999d', 'last-month', '2026-02-30..2026-03-01', '2026-11-07..2026-11-01')), fc.oneof(fc.constantFrom('UTC', 'Europe/Istanbul', 'Pacific/Kiritimati', 'America/St_Johns'), nasty), (text, tz) => {
        try {
          const period = parsePeriod(text, tz, NOW);
          expect(period.from!.getTime()).toBeLessThan(period.to!.getTime());
          // Postgres takes timestamps from 4713 BC to 294276 AD; a period must stay well inside.
          expect(Number.isFinite(period.from!.getTime())).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(PeriodError);
          expect((err as Error).message.length).toBeGreaterThan(10);
          expect((err as Error).message.length).toBeLessThan(400);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parsePeriod with dates at the edges of the calendar', () => {
  const date = fc
    .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
    .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
  const zone = fc.constantFrom('UTC', 'Pacific/Kiritimati', 'Etc/GMT+12', 'Asia/Kolkata');

  it('gives only instants the database can read (four-digit years from 0001), or a PeriodError', () => {
    fc.assert(
      fc.property(date, date, zone, (a, b, tz) => {
        try {
          const period = parsePeriod(`${a}..${b}`, tz, NOW);
          for (const instant of [period.from!, period.to!]) expect(instant.toISOString()).toMatch(/^(?!0000)\d{4}-/);
        } catch (err) {
          expect(err).toBeInstanceOf(PeriodError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseEventLine (one NDJSON line of an import)', () => {
  const jsonish = fc.oneof(
    nasty,
    fc.json({ maxDepth: 3 }),
    fc
      .record({
        type: fc.constantFrom('journey', 'journey_entry', 'step_entry', 'message', 'step_outcome', 'journey_exit', 'conversion', '__proto__', 'constructor'),
        event_id: fc.oneof(nasty, fc.integer()),
        journey_id: fc.oneof(nasty, fc.constant('welcome')),
        entry_id: nasty,
        external_id: nasty,
        step_id: nasty,
        at: fc.oneof(nasty, fc.constantFrom('2026-11-01T09:00:00Z', '2026-11-01T09:00:00', '2026-13-01T09:00:00Z', '2026-11-01T09:00:00.1234Z')),
        status: fc.oneof(nasty, fc.constantFrom('sent', 'failed')),
        steps: fc.oneof(fc.constant([]), fc.array(fc.record({ step_id: nasty, name: nasty, kind: nasty, next: fc.array(nasty) }), { maxLength: 3 })),
      }, { requiredKeys: [] })
      .map((o) => JSON.stringify(o)),
  );

  it('returns an event or a reason a person can read, for any line', () => {
    fc.assert(
      fc.property(jsonish, (line) => {
        const result = parseEventLine(line);
        if (!result.ok) {
          expect(result.reason.length).toBeGreaterThan(5);
          expect(result.reason.length).toBeLessThan(400);
        } else {
          expect(typeof result.event.type).toBe('string');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps SQL-looking and Unicode values as data', () => {
    const line = JSON.stringify({ type: 'conversion', event_id: "e'); drop table event_ids;--", external_id: 'Zoë 👩‍💻 \u202E', event: 'purchase', at: '2026-11-01T09:00:00Z' });
    const result = parseEventLine(line);
    expect(result).toMatchObject({ ok: true, event: { event_id: "e'); drop table event_ids;--", external_id: 'Zoë 👩‍💻 \u202E' } });
  });

  it('answers a megabyte line without echoing it', () => {
    const result = parseEventLine(`{"type":"conversion","event_id":"${'x'.repeat(1_000_000)}"}`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason.length).toBeLessThan(400);
  });
});
