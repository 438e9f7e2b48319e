// Hostile input end to end: the whole /journey dispatcher against a real database answers every text with a
// specific message (never an internal error), SQL-looking names are data, and exports guard spreadsheet formulas.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_TEXT } from '../../commands/error-answers.js';
import { answerJourneyCommand } from '../../commands/journey-command.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { exportCsv } from '../../reports/exports.js';
import { loadJourney } from '../../reports/metrics.js';
import { ALL_TIME } from '../../reports/report-types.js';
import { eventLines, openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const NOW = new Date('2026-11-29T12:00:00Z');
const SQL_NAME = "x'); drop table users;--";
/** External IDs a spreadsheet would run as formulas, and ones that look like SQL. */
const HOSTILE_IDS = ['=1+2', '+SUM(A1)', '-2+3', '@cmd', '\tTAB', '\rCR', "u'); drop table users;--", 'Zoë "quoted", comma'];

let db: TestDb;

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
  const events: unknown[] = [
    {
      type: 'journey',
      journey_id: 'sqlish',
      name: SQL_NAME,
      conversion_event: 'purchase',
      attribution_window_hours: 24,
      reentry: true,
      steps: [{ step_id: 's1', name: `Robert'); "step" -- ${'é'.repeat(3)}`, kind: 'push', next: [] }],
    },
  ];
  HOSTILE_IDS.forEach((externalId, i) => {
    const at = `2026-11-0${(i % 7) + 1}T09:00:00Z`;
    events.push({ type: 'journey_entry', event_id: `h-en-${i}`, journey_id: 'sqlish', entry_id: `h${i}`, external_id: externalId, at });
    events.push({ type: 'step_entry', event_id: `h-st-${i}`, journey_id: 'sqlish', entry_id: `h${i}`, step_id: 's1', at });
    events.push({ type: 'conversion', event_id: `h-cv-${i}`, external_id: externalId, event: 'purchase', at: at.replace('09:00', '10:00') });
  });
  const summary = await importEvents(db.db, eventLines(events), { source: 'hostile' });
  expect(summary.rejected).toBe(0);
});

afterAll(async () => {
  await db?.close();
});

const asker = { userId: 'U_FUZZ', channelId: 'C_FUZZ', tz: 'UTC' };
const deps = () => ({ db: db.db, now: () => NOW, campaignReportUrl: 'https://reports.example/{campaign_id}' });

function textOf(answer: unknown): string {
  return JSON.stringify(answer);
}

describe('the /journey dispatcher under hostile input', () => {
  const word = fc.oneof(
    fc.constantFrom('overview', 'steps', 'step', 'export', 'list', 'help', 'digest', 'welcome', 'Welcome series', 'sqlish', SQL_NAME, 's1', 'Robert', 'entries', 'exits', 'step-users', 'converted-users', 'failed', 'clicked', '7d', 'today', 'last-month', '2026-11-01..2026-11-07', '0000-01-01..9999-12-31', '9999d', "' or 1=1 --", '\u0000', '"', '“', 'w'),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
  );
  const quoted = word.map((w) => `"${w}"`);
  const year = fc.oneof(fc.constantFrom(0, 1, 1969, 2026, 9999), fc.integer({ min: 0, max: 9999 })).map((y) => String(y).padStart(4, '0'));
  const period = fc.oneof(
    fc.constantFrom('7d', '9999d', 'today', 'this-month', '2026-02-29..2026-03-01'),
    fc.tuple(year, year).map(([a, b]) => `${a}-01-01..${b}-12-31`),
  );
  // Shaped like a real command, so the journey is found and the period reaches the database.
  const command = fc
    .tuple(fc.constantFrom('overview', 'steps', 'step', 'export'), fc.constantFrom('welcome', 'sqlish', `"${SQL_NAME}"`), fc.array(word, { maxLength: 2 }), period)
    .map(([sub, journey, rest, p]) => [sub, journey, ...rest, p].join(' '));
  const text = fc.oneof(
    command,
    fc.array(fc.oneof(word, quoted), { maxLength: 6 }).map((ws) => ws.join(' ')),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.nat({ max: 5000 }).map((n) => `overview ${'a'.repeat(n)}`),
  );

  it('answers every text with a specific message, never an internal error or a stack trace', async () => {
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        const result = await answerJourneyCommand(deps(), asker, t);
        // An `error` means the dispatcher met something it did not expect and answered INTERNAL_TEXT.
        expect(result.error, `"${t}" → ${String(result.error)}`).toBeUndefined();
        const shown = textOf(result.answer);
        expect(shown).not.toContain(INTERNAL_TEXT);
        expect(shown).not.toMatch(/\bat \S+ \(|node_modules|Error:|drizzle|relation "|syntax error/);
        expect(shown.length).toBeGreaterThan(20);
      }),
      { numRuns: 400 },
    );
  });

  it('treats an SQL-looking journey name as data: found by name, shown unchanged, tables intact', async () => {
    const result = await answerJourneyCommand(deps(), asker, `overview "${SQL_NAME}"`);
    expect(result.error).toBeUndefined();
    expect(result.answer.kind).toBe('message');
    const shown = textOf(result.answer);
    // JSON escapes the quote characters of the name; the name itself is there, whole.
    expect(shown).toContain(JSON.stringify(SQL_NAME).slice(1, -1));
    expect(shown).toContain('Total Entries');
    const steps = await answerJourneyCommand(deps(), asker, `steps "${SQL_NAME}"`);
    expect(textOf(steps.answer)).toContain('Robert');
    // users still exists and holds the hostile ids, unchanged
    const journey = await loadJourney(db.db, 'sqlish');
    expect(journey?.name).toBe(SQL_NAME);
  });
});

describe('spreadsheet formula guard (METRICS.md) through a full export', () => {
  it("writes External IDs starting with = + - @ tab or CR with a leading ', and SQL-looking ones unchanged", async () => {
    const journey = (await loadJourney(db.db, 'sqlish'))!;
    let csv = '';
    for await (const chunk of exportCsv(db.db, { journey, kind: 'entries', period: ALL_TIME })) csv += chunk;
    expect(csv).toContain("\n'=1+2,h0,");
    expect(csv).toContain("\n'+SUM(A1),h1,");
    expect(csv).toContain("\n'-2+3,h2,");
    expect(csv).toContain("\n'@cmd,h3,");
    expect(csv).toContain("\n'\tTAB,h4,");
    // A cell with a CR is quoted (RFC 4180) and still guarded inside the quotes.
    expect(csv).toContain('\n"\'\rCR",h5,');
    expect(csv).toContain("\nu'); drop table users;--,h6,");
    expect(csv).toContain('\n"Zoë ""quoted"", comma",h7,');
    let converted = '';
    for await (const chunk of exportCsv(db.db, { journey, kind: 'converted-users', period: ALL_TIME })) converted += chunk;
    for (const id of ['=1+2', '+SUM(A1)', '-2+3', '@cmd']) expect(converted).toContain(`\n'${id},`);
    // no line of either export starts with a formula character outside quotes
    for (const line of `${csv}${converted}`.split('\n')) expect(line).not.toMatch(/^[=+\-@\t]/);
  });
});
