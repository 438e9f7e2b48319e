// The import's time arithmetic (db/import/utc-buckets.ts): times sent as epoch milliseconds are the instants their ISO
// text names, and the rollups' UTC buckets are date_trunc(grain, t, 'UTC'), at the edges of the accepted years, around
// midnights and hours, and whatever the session's time zone.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayParam, queryRows, toCount } from '../../db/client.js';
import { bucketOf, fromEpochMs, GRAINS, utcDay } from '../../db/import/utc-buckets.js';
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

describe('times sent as epoch milliseconds', () => {
  // Every millisecond of the edges' neighbourhoods, and steps across the years with every remainder of 1,000 ms.
  const instants = [
    ...EDGES.flatMap((iso) => [-1001, -1000, -999, -1, 0, 1, 999, 1000, 1001].map((d) => Date.parse(iso) + d)),
    ...Array.from({ length: 4000 }, (_, i) => Date.parse('0001-01-01T00:00:00.000Z') + i * 79_190_008_337_123 / 1000 + (i % 1000)),
  ]
    .map((ms) => Math.trunc(ms))
    .filter((ms) => ms >= Date.parse('0001-01-01T00:00:00.000Z') && ms <= Date.parse('9999-12-31T23:59:59.999Z'));

  it.each(['UTC', 'Asia/Kolkata', 'America/St_Johns'])('are the instants their ISO text names, the session in %s', async (zone) => {
    const [row] = await t.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('TimeZone', ${zone}, true)`);
      return queryRows<Record<string, unknown>>(
        tx,
        sql`select count(*) as n, count(*) filter (where ${fromEpochMs(sql`t.ms`)} is distinct from t.iso::timestamptz) as differ,
              min(t.ms) as first_ms, max(t.ms) as last_ms
            from unnest(${arrayParam(instants)}::bigint[], ${arrayParam(instants.map((ms) => new Date(ms).toISOString()))}::text[]) as t(ms, iso)`,
      );
    });
    expect(toCount(row!.n)).toBe(instants.length);
    expect(toCount(row!.differ)).toBe(0);
    // the whole accepted range is covered, negative times (before 1970) included
    expect(toCount(row!.first_ms)).toBe(Date.parse('0001-01-01T00:00:00.000Z'));
    expect(toCount(row!.last_ms)).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
  });
});
