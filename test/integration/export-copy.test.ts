// Exports on Postgres stream from COPY, formatted by the database: byte for byte what the writer in Node makes
// (the path PGlite takes) on hostile values, and a reader that stops early or falls behind costs no connection
// and no memory. Runs only against the Postgres server of TEST_DATABASE_URL.
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDb, postgresPool, queryRows, type Db } from '../../db/client.js';
import { importEvents } from '../../db/import/import-events.js';
import { EXPORT_KINDS, STEP_USER_STATUSES, exportCsv, exportCsvBytes, type ExportRequest } from '../../reports/exports.js';
import { loadJourney } from '../../reports/metrics.js';
import { ALL_TIME, type JourneyInfo, type Period } from '../../reports/report-types.js';
import { eventLines, openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';

/** Cells that need care in CSV or in a spreadsheet; each is used as an External ID, in entry ids, step ids and reasons. */
const HOSTILE = [
  'plain',
  'with,comma',
  'with "quote"',
  '"',
  'line\nfeed',
  'carriage\rreturn',
  'crlf\r\nend',
  'ends with LF\n',
  '=1+2',
  '+SUM(A1)',
  '-2',
  '@cmd',
  '\ttab first',
  '\rCR first',
  '\r\n',
  "'already quoted",
  ' leading space',
  // COPY quotes a lone \. only in a single-column row: every export has three or more columns.
  '\\.',
  '\\',
  'back\\slash\\N',
  'Zoë ✓ 日本語',
  '😀 astral 𝔘',
  'line\u2028separator',
  ',"\n',
];
const STEPS = ['s,1', '=s2', '"s3"', '\\.'];
const PLATFORMS = ['android', null, 'Web', 'smart-fridge'];
const NOVEMBER_2: Period = { from: new Date('2026-11-02T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z') };

let db: TestDb;

async function collect<T>(chunks: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

const text = async (chunks: AsyncIterable<string>) => (await collect(chunks)).join('');

function countLines(chunks: Buffer[]): number {
  let lines = 0;
  for (const chunk of chunks) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  return lines;
}

/** The export as COPY writes it (the database handle has a pool). */
const viaCopy = (req: ExportRequest) => text(exportCsv(db.db, req));
/** The export as the Node writer makes it: a transaction has no pool of its own, so it reads through the cursor. */
const viaNode = (req: ExportRequest) =>
  db.db.transaction(async (tx) => {
    expect(postgresPool(tx as unknown as Db)).toBeNull();
    return text(exportCsv(tx as unknown as Db, req));
  });

const journeyOf = (journeyId: string): JourneyInfo => ({
  journeyId,
  name: journeyId,
  conversionEvent: null,
  attributionWindowHours: 24,
  reentry: true,
  thresholds: null,
  steps: [],
});

const testDbUrl = () => (db.config as { url: string }).url;

/** The test database on a pool of one connection: were an export's connection leaked, the next query would wait in vain. */
/** The app's own pool (createDb), of one connection: a connection it loses or keeps shows at once. */
async function withPoolOfOne(run: (small: Db, pool: pg.Pool) => Promise<void>): Promise<void> {
  const handle = await createDb({ kind: 'postgres', url: testDbUrl(), poolSize: 1 });
  try {
    await run(handle.db, postgresPool(handle.db)!);
  } finally {
    await handle.close();
  }
}

/** Cancels the statement of, or terminates, every backend of this database running an export's COPY. */
async function signalCopyBackends(how: 'pg_cancel_backend' | 'pg_terminate_backend'): Promise<void> {
  const admin = new pg.Client({ connectionString: testDbUrl() });
  await admin.connect();
  try {
    await admin.query(
      `select ${how}(pid) from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and query like 'copy (select%'`,
    );
  } finally {
    await admin.end();
  }
}

/** Backends of this database running an export's COPY, seen from a connection of their own. */
async function copyBackends(): Promise<Array<{ pid: number; wait_event: string | null }>> {
  const admin = new pg.Client({ connectionString: testDbUrl() });
  await admin.connect();
  try {
    const res = await admin.query<{ pid: number; wait_event: string | null }>(
      `select pid, wait_event from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()
          and query like 'copy (select%'`,
    );
    return res.rows;
  } finally {
    await admin.end();
  }
}

describe.skipIf(!testDatabaseUrl)('CSV export through COPY (Postgres)', () => {
  beforeAll(async () => {
    db = await openTestDb();
    const events: unknown[] = [
      {
        type: 'journey',
        journey_id: 'hostile',
        name: 'Hostile cells',
        conversion_event: 'purchase',
        attribution_window_hours: 24,
        reentry: true,
        steps: STEPS.map((stepId) => ({ step_id: stepId, name: `step ${stepId}`, kind: 'push', next: [] })),
      },
    ];
    HOSTILE.forEach((externalId, i) => {
      // Spread over 1–3 November with milliseconds, so the period of 2 November takes a part of every export.
      const at = (offsetMs: number) => new Date(Date.UTC(2026, 10, 1) + i * 3 * 3_600_000 + i * 7 + offsetMs).toISOString();
      const entryId = `${HOSTILE[(i + 5) % HOSTILE.length]}${i}`;
      const stepId = STEPS[i % STEPS.length];
      events.push({ type: 'journey_entry', event_id: `${HOSTILE[(i + 3) % HOSTILE.length]}en${i}`, journey_id: 'hostile', entry_id: entryId, external_id: externalId, at: at(0) });
      // every fifth entry reaches no step: its last_step_id is empty
      if (i % 5 !== 4) {
        events.push({ type: 'step_entry', event_id: `st${i}`, journey_id: 'hostile', entry_id: entryId, step_id: stepId, at: at(1_000) });
        for (const [k, status] of (['sent', 'failed', 'shown', 'clicked'] as const).entries()) {
          events.push({
            type: 'message',
            event_id: `${HOSTILE[(i + k) % HOSTILE.length]}m${i}-${k}`,
            journey_id: 'hostile',
            entry_id: entryId,
            step_id: stepId,
            status,
            platform: PLATFORMS[(i + k) % PLATFORMS.length],
            // empty, absent (null) or hostile
            ...((i + k) % 3 === 0 ? { reason: '' } : (i + k) % 3 === 1 ? {} : { reason: HOSTILE[(i + k + 7) % HOSTILE.length] }),
            at: at(2_000 + k),
          });
        }
      }
      if (i % 3 !== 0) events.push({ type: 'journey_exit', event_id: `ex${i}`, journey_id: 'hostile', entry_id: entryId, at: at(7_200_000) });
      if (i % 2 === 0) {
        events.push({ type: 'conversion', event_id: `${HOSTILE[(i + 9) % HOSTILE.length]}cv${i}`, external_id: externalId, event: 'purchase', at: at(3_600_000) });
      }
    });
    const summary = await importEvents(db.db, eventLines(events), { source: 'hostile-export' });
    expect(summary.rejected).toBe(0);
  });

  afterAll(async () => {
    await db?.close();
  });

  const requests = (journey: JourneyInfo): ExportRequest[] => [
    ...EXPORT_KINDS.filter((kind) => kind !== 'step-users').map((kind) => ({ journey, kind, period: ALL_TIME })),
    ...journey.steps.flatMap((step) =>
      STEP_USER_STATUSES.map((status) => ({ journey, kind: 'step-users' as const, stepId: step.stepId, status, period: ALL_TIME })),
    ),
  ];

  it('writes every export, all time and for a period, exactly as the Node writer', async () => {
    const journey = (await loadJourney(db.db, 'hostile'))!;
    const all = requests(journey);
    let everything = '';
    for (const req of [...all, ...all.map((r) => ({ ...r, period: NOVEMBER_2 }))]) {
      const copied = await viaCopy(req);
      expect(copied, `${req.kind} ${req.stepId ?? ''} ${req.status ?? ''} ${JSON.stringify(req.period)}`).toBe(await viaNode(req));
      expect(Buffer.concat(await collect(exportCsvBytes(db.db, req)))).toEqual(Buffer.from(copied, 'utf8'));
      expect(copied.split('\n').length, `${req.kind} has rows`).toBeGreaterThan(2);
      everything += copied;
    }
    // the comparison covered the hard cells: guarded, quoted, empty and non-ASCII ones
    for (const cell of ['\n"\'\rCR first",', '\n"crlf\r\nend",', '\n\\.,', '\n😀 astral 𝔘,', ",'=s2\n", ',\\.\n', 'Z,,\n']) {
      expect(everything).toContain(cell);
    }
  });

  it('writes timestamps of any year as Date#toISOString does', async () => {
    // Years the importer cannot store (Postgres reads no ISO year outside 1–9999), written here directly.
    await db.db.execute(sql`insert into users (external_id) select 'exotic-' || g from generate_series(1, 7) g`);
    await db.db.execute(sql`
      insert into entries (journey_id, entry_id, user_id, event_id, entered_at, exited_at)
      select 'exotic', 'x' || v.n, u.id, 'exotic-ev-' || v.n, v.at::timestamptz, v.at::timestamptz + interval '1 ms'
        from (values (1, '0002-12-31 23:59:59.999+00 BC'), (2, '0001-01-01 00:00:00+00 BC'), (3, '0001-01-01 00:00:00+00'),
                     (4, '1969-12-31 23:59:59.999+00'), (5, '9999-12-31 23:59:59.999+00'), (6, '10000-01-01 00:00:00+00'),
                     (7, '12345-06-07 08:09:10.011+00')) as v(n, at)
        join users u on u.external_id = 'exotic-' || v.n`);
    const req: ExportRequest = { journey: journeyOf('exotic'), kind: 'entries', period: ALL_TIME };
    const copied = await viaCopy(req);
    expect(copied).toBe(await viaNode(req));
    expect(copied).toContain(',-000001-12-31T23:59:59.999Z,0000-01-01T00:00:00.000Z,');
    expect(copied).toContain(',+010000-01-01T00:00:00.000Z,+010000-01-01T00:00:00.001Z,');
  });

  it('decodes characters split between two chunks', async () => {
    await db.db.execute(sql`insert into users (external_id) select repeat('😀é', 30) || g from generate_series(1, 4000) g`);
    await db.db.execute(sql`
      insert into entries (journey_id, entry_id, user_id, event_id, entered_at)
      select 'wide', 'w' || u.id, u.id, 'wide-ev-' || u.id, timestamptz '2026-11-01T00:00:00Z' + u.id * interval '1 ms'
        from users u where u.external_id like '😀é%'`);
    const req: ExportRequest = { journey: journeyOf('wide'), kind: 'entries', period: ALL_TIME };
    const chunks = await collect(exportCsvBytes(db.db, req));
    // a chunk starting with a UTF-8 continuation byte: the stream cut a character in two
    expect(chunks.slice(1).some((chunk) => (chunk[0]! & 0xc0) === 0x80)).toBe(true);
    expect(await viaCopy(req)).toBe(await viaNode(req));
  });

  describe('a large export', () => {
    const req: ExportRequest = { journey: journeyOf('bulk'), kind: 'entries', period: ALL_TIME };

    beforeAll(async () => {
      // ~150 bytes a row, 20 MB in all: more than the socket buffers between the server and this process hold.
      await db.db.execute(sql`insert into users (external_id) select 'bulk-' || lpad(g::text, 120, '0') from generate_series(1, 150000) g`);
      await db.db.execute(sql`
        insert into entries (journey_id, entry_id, user_id, event_id, entered_at)
        select 'bulk', 'b' || u.id, u.id, 'bulk-ev-' || u.id, timestamptz '2026-01-01T00:00:00Z' + u.id * interval '1 s'
          from users u where u.external_id like 'bulk-%'`);
    });

    it('holds the server back while the reader waits', async () => {
      const reader = exportCsvBytes(db.db, req);
      await reader.next(); // the header
      await reader.next(); // the first rows: the COPY runs
      // The reader takes nothing more: the server ends up waiting to write to the socket (ClientWrite) instead
      // of this process buffering the rest of the export.
      await vi.waitFor(async () => expect((await copyBackends()).map((b) => b.wait_event)).toEqual(['ClientWrite']), {
        timeout: 15_000,
        interval: 100,
      });
      await reader.return(undefined);
      await vi.waitFor(async () => expect(await copyBackends()).toEqual([]), { timeout: 15_000, interval: 100 });
    });

    it('ends the COPY and frees its connection when the reader stops early', async () => {
      await withPoolOfOne(async (small, pool) => {
        let bytes = 0;
        for await (const chunk of exportCsvBytes(small, req)) {
          bytes += chunk.length;
          if (bytes > 100_000) break;
        }
        // dropped, not returned to the pool mid-COPY
        expect(pool.totalCount).toBe(0);
        expect(await queryRows(small, sql`select 1 as one`)).toEqual([{ one: 1 }]);
        await vi.waitFor(async () => expect(await copyBackends()).toEqual([]), { timeout: 15_000, interval: 100 });
        // and the next export on the same pool runs whole
        expect(countLines(await collect(exportCsvBytes(small, req)))).toBe(150_001);
      });
    });

    it('passes a failed COPY on to the reader and frees its connection', async () => {
      await withPoolOfOne(async (small) => {
        const reader = exportCsvBytes(small, req);
        await reader.next();
        await reader.next();
        await signalCopyBackends('pg_cancel_backend');
        await expect(collect(reader)).rejects.toThrow(/canceling statement/);
        expect(await queryRows(small, sql`select 1 as one`)).toEqual([{ one: 1 }]);
      });
    });

    it('passes a connection lost mid-COPY on to the reader, without bringing the process down', async () => {
      await withPoolOfOne(async (small) => {
        const reader = exportCsvBytes(small, req);
        await reader.next();
        await reader.next();
        await signalCopyBackends('pg_terminate_backend');
        // An 'error' on a checked-out client with no listener is an uncaught exception: vitest fails the run.
        await expect(collect(reader)).rejects.toThrow(/terminat/i);
        expect(await queryRows(small, sql`select 1 as one`)).toEqual([{ one: 1 }]);
      });
    });
  });
});
