// The worked examples of METRICS.md as data: importing the shared fixture reproduces its expected report exactly.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client.js';
import * as schema from '../../db/schema.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import type { JourneyReport, Period } from '../../reports/report-types.js';
import { openTestDb, type TestDb } from '../support/test-db.js';
import { referenceReport, type ContractLine } from '../support/reference-metrics.js';

const fixtures = new URL('../../../shared/fixtures/worked-examples/', import.meta.url);
const eventsFile = fileURLToPath(new URL('events.ndjson', fixtures));
const expected = JSON.parse(readFileSync(new URL('expected-report.json', fixtures), 'utf8')) as Record<
  'all_time' | 'period_2026-11-01',
  JourneyReport
>;
const ALL_TIME: Period = { from: null, to: null };
const NOVEMBER_1: Period = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z') };
// 1 journey line + 51 events, all valid.
const FIXTURE_LINES = 52;

let testDb: TestDb;
let db: Db;

beforeAll(async () => {
  testDb = await openTestDb();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  const tables = Object.values(schema).flatMap((t) => (is(t, PgTable) ? [`"${getTableName(t)}"`] : []));
  await db.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
});

async function reportFor(period: Period): Promise<JourneyReport> {
  const journey = await loadJourney(db, 'welcome');
  if (!journey) throw new Error('journey "welcome" was not imported');
  return computeReport(db, journey, period);
}

describe('worked examples (attribution window 24 h)', () => {
  it.each([{ batchSize: undefined }, { batchSize: 5 }])('imports every line (batch size $batchSize)', async ({ batchSize }) => {
    const summary = await importEvents(db, readLines(eventsFile), { source: eventsFile, batchSize });
    expect(summary).toMatchObject({ status: 'completed', lines: FIXTURE_LINES, accepted: FIXTURE_LINES, duplicates: 0, rejected: 0 });
  });

  it.each([{ batchSize: undefined }, { batchSize: 5 }])(
    'reproduces the expected all-time report (batch size $batchSize)',
    async ({ batchSize }) => {
      await importEvents(db, readLines(eventsFile), { source: eventsFile, batchSize });
      // 11 entries of 9 users; 6 users converted (examples 1, 4, 5, 6, 7 and the 24 h edge) with 8 events
      // (example 4 has 3); 5 exits without conversion: x2, x3, x5a, x6a, x9.
      expect(await reportFor(ALL_TIME)).toEqual(expected.all_time);
    },
  );

  it.each([{ batchSize: undefined }, { batchSize: 5 }])(
    'reproduces the expected report for 1 November 2026 UTC (batch size $batchSize)',
    async ({ batchSize }) => {
      await importEvents(db, readLines(eventsFile), { source: eventsFile, batchSize });
      // x4 (09:00+03:00 on 2 Nov = 06:00Z) and x5b (5 Nov) are outside the cohort: 9 entries of 8 users;
      // converted: x1, x6b, x7, x8 = 4 users with 4 events (50 %).
      expect(await reportFor(NOVEMBER_1)).toEqual(expected['period_2026-11-01']);
    },
  );

  it('the reference model of METRICS.md reproduces the expected reports too', () => {
    const lines = readFileSync(eventsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as ContractLine);
    expect(referenceReport(lines, 'welcome', ALL_TIME)).toEqual(expected.all_time);
    expect(referenceReport(lines, 'welcome', NOVEMBER_1)).toEqual(expected['period_2026-11-01']);
  });
});
