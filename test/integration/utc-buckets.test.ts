// The rollups' UTC buckets (db/import/utc-buckets.ts) are date_trunc(grain, t, 'UTC') by arithmetic: the same
// instants at the edges of the accepted years, around midnights and hours, and whatever the session's time zone.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayParam, queryRows, toCount } from '../../db/client.js';
import { bucketOf, GRAINS, utcDay } from '../../db/import/utc-buckets.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb();
});
afterAll(async () => {
  await t?.close();
});

const EDGES = [
  '0001-01-01T00:00:00.000Z', // the first instant the import accepts
  '0001-01-01T00:59:59.999Z',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00.000Z',
  '2026-03-29T00:59:59.999Z', // Europe's clocks change at 01:00 UTC: nothing to UTC
  '2026-03-29T01:00:00.000Z',
  '2026-11-30T23:59:59.999Z',
  '2026-12-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z', // the last
];

describe('UTC buckets', () => {
  it.each(['UTC', 'Asia/Kolkata', 'America/St_Johns'])('equal date_trunc in UTC, the session in %s', async (zone) => {
    const [row] = await t.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('TimeZone', ${zone}, true)`);
      return queryRows<Record<string, unknown>>(
        tx,
        sql`with t(at) as (
              select unnest(${arrayParam(EDGES)}::timestamptz[])
              union all
              select timestamptz '2026-01-01 00:00:00.123+00' + g * interval '7919.5 seconds' from generate_series(0, 4000) g)
            select count(*) as n,
              count(*) filter (where ${bucketOf(sql`t.at`)} <> date_trunc(g.grain, t.at, 'UTC')) as buckets_differ,
              count(*) filter (where ${utcDay(sql`t.at`)} <> date_trunc('day', t.at, 'UTC')) as days_differ,
              min(${bucketOf(sql`t.at`)}) filter (where g.grain = 'hour') = timestamptz '0001-01-01 00:00:00+00' as first_hour_is_origin
            from t ${GRAINS}`,
      );
    });
    // (9 edges + 4,001 times) × 2 grains
    expect(toCount(row!.n)).toBe(8020);
    expect(toCount(row!.buckets_differ)).toBe(0);
    expect(toCount(row!.days_differ)).toBe(0);
    expect(row!.first_hour_is_origin).toBe(true);
  });
});
