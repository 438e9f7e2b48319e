// An export reads one snapshot and holds nothing back while its reader is slow: imports and reports go on beside it
// (on PGlite too, which runs one transaction at a time), and what they change stays out of the running export. The
// cursor PGlite exports through is closed however the reader ends. Runs on PGlite, and on Postgres when
// TEST_DATABASE_URL is set.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPool, queryRows, type Db } from '../../db/client.js';
import { importEvents } from '../../db/import/import-events.js';
import { exportCsv, type ExportRequest } from '../../reports/exports.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { ALL_TIME } from '../../reports/report-types.js';
import { eventLines, openTestDb, type TestDb } from '../support/test-db.js';

/** Entries in the journey: more than two FETCHes of the cursor (1,000 rows each). */
const ENTRIES = 2_500;
const START_MS = Date.UTC(2026, 10, 1);

let db: TestDb;
let request: ExportRequest;

const entryLine = (n: number, atMs: number) => ({
  type: 'journey_entry',
  event_id: `snap-en-${n}`,
  journey_id: 'snap',
  entry_id: `snap-${n}`,
  external_id: `user-${n % 2_000}`,
  at: new Date(atMs).toISOString(),
});

async function rest(reader: AsyncGenerator<string>): Promise<string> {
  let text = '';
  for (let next = await reader.next(); !next.done; next = await reader.next()) text += next.value;
  return text;
}

const openCursors = async (on: Db) => (await queryRows<{ name: string }>(on, sql`select name from pg_cursors where name like 'export_cursor_%'`)).map((c) => c.name);

/**
 * Runs `check` where exports read through the cursor: the database itself on PGlite; on Postgres, whose exports
 * take COPY on a connection of their own, a transaction (which has no pool, so it reads through the cursor).
 */
async function onCursorPath(check: (on: Db) => Promise<void>): Promise<void> {
  if (!postgresPool(db.db)) return check(db.db);
  await db.db.transaction(async (tx) => {
    const on = tx as unknown as Db;
    expect(postgresPool(on)).toBeNull();
    await check(on);
  });
}

beforeAll(async () => {
  db = await openTestDb();
  const events: unknown[] = [
    { type: 'journey', journey_id: 'snap', name: 'Snapshot', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [] },
  ];
  for (let n = 0; n < ENTRIES; n++) events.push(entryLine(n, START_MS + n * 60_000));
  const summary = await importEvents(db.db, eventLines(events), { source: 'export-snapshot' });
  expect(summary.accepted).toBe(ENTRIES + 1);
  request = { journey: (await loadJourney(db.db, 'snap'))!, kind: 'entries', period: ALL_TIME };
});

afterAll(async () => {
  await db?.close();
});

describe('an export while the journey changes', () => {
  it('lets an import and a report run while its reader waits, and leaves out what they change', async () => {
    const before = await rest(exportCsv(db.db, request));
    expect(before.split('\n')).toHaveLength(ENTRIES + 2); // header, rows, and the empty string after the last LF

    const reader = exportCsv(db.db, request);
    let text = (await reader.next()).value as string; // the header
    text += (await reader.next()).value as string; // the first rows: the export has started
    expect(text.split('\n').length).toBeLessThan(ENTRIES);

    // The reader takes nothing more while an entry arrives, dated in the middle of the export's order. Before,
    // on PGlite, the export's transaction held the database until the reader had read the last row: this import
    // and this report waited on a reader that waited on them.
    const late = entryLine(ENTRIES, START_MS + (ENTRIES / 2) * 60_000 + 30_000);
    const summary = await importEvents(db.db, eventLines([late]), { source: 'export-snapshot-late' });
    expect(summary.accepted).toBe(1);
    expect((await computeReport(db.db, request.journey, ALL_TIME)).overview.total_entries).toBe(ENTRIES + 1);

    text += await rest(reader);
    expect(text).toBe(before);
    const after = await rest(exportCsv(db.db, request));
    expect(after.split('\n')).toHaveLength(ENTRIES + 3);
    expect(after).toContain(`,snap-${ENTRIES},`);
  });

  it('closes its cursor when the reader finishes, and when it stops early', async () => {
    await onCursorPath(async (on) => {
      const all = await rest(exportCsv(on, request));
      expect(all.length).toBeGreaterThan(0);
      expect(await openCursors(on)).toEqual([]);

      const reader = exportCsv(on, request);
      await reader.next(); // the header
      await reader.next(); // the first rows
      expect(await openCursors(on)).toHaveLength(1);
      await reader.return(undefined);
      expect(await openCursors(on)).toEqual([]);
    });
  });
});
