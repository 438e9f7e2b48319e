// Opening a Postgres database and losing it: the migration runs on the connection that holds the migration lock,
// and a connection that drops while checked out (a transaction, an export's COPY) fails its work, not the process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, postgresPool, queryRows, type DbHandle } from '../../db/client.js';
import { IMPORT_LOCK_KEY, importEvents, readLines } from '../../db/import/import-events.js';
import { exportCsvBytes } from '../../reports/exports.js';
import { loadJourney } from '../../reports/metrics.js';
import { ALL_TIME } from '../../reports/report-types.js';
import { openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';

/** A TCP proxy to the server whose connections can be cut at once, as a network failure or a failover does. */
async function startProxy(target: URL): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The line defining a journey without steps (re-entry allowed), for the import tests below. */
const journeyLine = (journeyId: string) =>
  JSON.stringify({ type: 'journey', journey_id: journeyId, name: journeyId, conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [] });

/** Imports the journeyLine of `journeyId`. */
async function defineJourney(handle: DbHandle, journeyId: string): Promise<void> {
  await importEvents(handle.db, (async function* () { yield journeyLine(journeyId); })(), { source: 'test' });
}

/** `n` journey_entry lines of a journey, their ids tagged. */
async function* entryLines(journeyId: string, tag: string, n: number): AsyncIterable<string> {
  for (let i = 0; i < n; i++) {
    yield JSON.stringify({ type: 'journey_entry', event_id: `${tag}-${i}`, journey_id: journeyId, entry_id: `${tag}-e-${i}`, external_id: `u-${i}`, at: '2026-11-01T09:00:00Z' });
  }
}

/** The highest value `sample` gave, read every millisecond while `work` ran. */
async function mostWhile(sample: () => number, work: () => Promise<unknown>): Promise<number> {
  let most = 0;
  const watching = setInterval(() => (most = Math.max(most, sample())), 1);
  try {
    await work();
  } finally {
    clearInterval(watching);
  }
  return most;
}

describe.skipIf(!testDatabaseUrl)('createDb on a Postgres server', () => {
  // A database of this file's own (created and dropped by openTestDb), opened again below with other pools.
  let own: TestDb;
  let url: URL;

  beforeAll(async () => {
    own = await openTestDb();
    url = new URL(own.env.DATABASE_URL!);
  });

  afterAll(async () => {
    await own?.close();
  });

  /** Runs `work` on this file's database opened with a pool of `poolSize` connections, then closes it. */
  async function withPool(poolSize: number, work: (handle: DbHandle) => Promise<void>): Promise<void> {
    const handle = await createDb({ kind: 'postgres', url: url.toString(), poolSize });
    try {
      await work(handle);
    } finally {
      await handle.close();
    }
  }

  it('refuses a role that may not create temporary tables, naming the grant, before any import fails on it', async () => {
    // A database and a role of this test's own: the role owns the database (so it runs the migrations) but has no TEMPORARY.
    const admin = new pg.Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    const name = `ja_notemp_${process.pid}_${Date.now()}`;
    try {
      await admin.query(`create role ${name} login`);
      await admin.query(`create database ${name} owner ${name}`);
      await admin.query(`revoke temporary on database ${name} from public, ${name}`);
      const restricted = new URL(url.toString());
      restricted.username = name;
      restricted.pathname = `/${name}`;
      await expect(createDb({ kind: 'postgres', url: restricted.toString(), poolSize: 2 })).rejects.toThrow(
        `The role ${name} may not create temporary tables in the database ${name}, and imports stage their rows in them: grant it with GRANT TEMPORARY ON DATABASE "${name}" TO "${name}";`,
      );
      // with the grant, it opens
      await admin.query(`grant temporary on database ${name} to ${name}`);
      const handle = await createDb({ kind: 'postgres', url: restricted.toString(), poolSize: 2 });
      await handle.close();
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.query(`drop role if exists ${name}`).catch(() => {});
      await admin.end();
    }
  });

  it('migrates and answers with a pool of one connection', async () => {
    await withPool(1, async (handle) => {
      const rows = await queryRows<{ n: unknown }>(handle.db, sql`select count(*) as n from journeys`);
      expect(Number(rows[0]?.n)).toBe(0);
    });
  }, 20_000);

  it('an import on a pool of one connection never waits for a second one', async () => {
    await withPool(1, async (handle) => {
      async function* lines() {
        yield journeyLine('pool-of-one');
        yield* entryLines('pool-of-one', 'p1', 200);
      }
      // Batches of ten: claiming a batch's ids ahead, on a second connection, would queue for the pool's only one
      // (and time out once a batch took longer than the pool's connection timeout).
      const pool = postgresPool(handle.db)!;
      const mostWaiting = await mostWhile(
        () => pool.waitingCount,
        async () => expect(await importEvents(handle.db, lines(), { source: 'test', batchSize: 10 })).toMatchObject({ status: 'completed', accepted: 201, rejected: 0 }),
      );
      expect(mostWaiting).toBe(0);
    });
  }, 20_000);

  it('an import on a pool of one and one that claims ahead, of the same events at once, both finish', async () => {
    const single = await createDb({ kind: 'postgres', url: url.toString(), poolSize: 1 });
    const dir = mkdtempSync(path.join(tmpdir(), 'pool-of-one-'));
    try {
      const lines = [
        JSON.stringify({ type: 'journey', journey_id: 'both', name: 'Both', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [{ step_id: 's1', name: 'S1', kind: 'push', next: [] }] }),
        JSON.stringify({ type: 'journey_entry', event_id: 'both-en', journey_id: 'both', entry_id: 'e-1', external_id: 'u-1', at: '2026-11-01T09:00:00Z' }),
      ];
      await importEvents(own.db, (async function* () { yield* lines; })(), { source: 'test' });
      const file = path.join(dir, 'messages.ndjson');
      let text = '';
      for (let i = 0; i < 4000; i++) {
        text += `${JSON.stringify({ type: 'message', event_id: `both-${String(i).padStart(4, '0')}`, journey_id: 'both', entry_id: 'e-1', step_id: 's1', status: 'sent', at: '2026-11-01T09:00:01Z' })}\n`;
      }
      writeFileSync(file, text);
      // The pool of one claims under the import lock. Were it not kept apart from claims ahead (the gate), it could
      // take the lock and then wait on an id a claiming-ahead batch holds while that batch waits, in Node, for the
      // batch before it, which waits for the lock: a hang the server cannot see.
      const [one, ahead] = await Promise.all([
        importEvents(single.db, readLines(file), { source: file, batchSize: 50 }),
        importEvents(own.db, readLines(file), { source: file, batchSize: 50 }),
      ]);
      expect([one.status, ahead.status]).toEqual(['completed', 'completed']);
      expect(one.accepted + ahead.accepted).toBe(4000);
      const rows = await queryRows<{ n: unknown }>(own.db, sql`select count(*) as n from messages where journey_id = 'both'`);
      expect(Number(rows[0]?.n)).toBe(4000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await single.close();
    }
  }, 60_000);

  it('of several imports at once on one pool, one claims ahead: each holds one connection, plus one', async () => {
    await withPool(10, async (handle) => {
      await defineJourney(handle, 'several');
      const linesOf = (tag: string) => entryLines('several', tag, 1500);
      const pool = postgresPool(handle.db)!;
      /** The most connections checked out of the pool while `work` runs. */
      const mostInUse = (work: () => Promise<unknown>) => mostWhile(() => pool.totalCount - pool.idleCount, work);
      // Alone, an import claims its next batch's ids while a batch writes: two connections.
      expect(await mostInUse(() => importEvents(handle.db, linesOf('alone'), { source: 'test', batchSize: 25 }))).toBe(2);
      // Four at once: had each claimed ahead, they would hold eight of the pool's ten.
      const summaries: Array<{ status: string; accepted: number }> = [];
      let exclusiveGate = 0;
      let importing = true;
      // The three that do not claim ahead still claim under the shared gate: an exclusive one (a strict import's)
      // would queue every other batch behind it, one at a time.
      const watchingLocks = (async () => {
        while (importing) {
          const rows = await queryRows<{ n: unknown }>(
            own.db,
            sql`select count(*) as n from pg_locks where locktype = 'advisory' and objid = 7316003 and mode = 'ExclusiveLock'`,
          );
          exclusiveGate += Number(rows[0]?.n);
        }
      })();
      const most = await mostInUse(async () => {
        try {
          summaries.push(...(await Promise.all(['a', 'b', 'c', 'd'].map((tag) => importEvents(handle.db, linesOf(tag), { source: 'test', batchSize: 25 })))));
        } finally {
          importing = false;
          await watchingLocks;
        }
      });
      expect(summaries.map((s) => [s.status, s.accepted])).toEqual(Array(4).fill(['completed', 1500]));
      expect(exclusiveGate).toBe(0);
      expect(most).toBeLessThanOrEqual(5);
      // …and they did run at once, each waiting with its connection for its turn at the import lock.
      expect(most).toBeGreaterThanOrEqual(3);
    });
  }, 60_000);

  it('an import that started beside one claiming ahead claims ahead itself once that one has ended', async () => {
    await withPool(10, async (handle) => {
      await defineJourney(handle, 'takes-over');
      const linesOf = (tag: string, n: number) => entryLines('takes-over', tag, n);
      const pool = postgresPool(handle.db)!;
      let firstStarted!: () => void;
      const started = new Promise<void>((resolve) => (firstStarted = resolve));
      // The first claims ahead (it is alone when its first batch is written); the second starts beside it.
      const first = importEvents(handle.db, linesOf('first', 100), { source: 'test', batchSize: 25, onProgress: () => firstStarted() });
      await started;
      const second = importEvents(handle.db, linesOf('second', 3000), { source: 'test', batchSize: 25 });
      expect(await first).toMatchObject({ status: 'completed', accepted: 100 });
      // From here on the second is alone: claiming ahead, it holds two connections while a batch writes.
      const most = await mostWhile(
        () => pool.totalCount - pool.idleCount,
        async () => expect(await second).toMatchObject({ status: 'completed', accepted: 3000 }),
      );
      expect(most).toBe(2);
    });
  }, 60_000);

  it("a journey line waits for the import lock, as another import's batch holds it", async () => {
    // Another import's batch, as far as the lock goes: a connection of its own that holds the import lock.
    const holder = await createDb({ kind: 'postgres', url: url.toString(), poolSize: 1 });
    const client = await postgresPool(holder.db)!.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [IMPORT_LOCK_KEY]);
      const line = JSON.stringify({ type: 'journey', journey_id: 'behind-the-lock', name: 'Behind the lock', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [] });
      let settled = false;
      const importing = importEvents(own.db, (async function* () { yield line; })(), { source: 'test' }).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(settled).toBe(false);
      const stored = await queryRows<{ n: unknown }>(own.db, sql`select count(*) as n from journeys where journey_id = 'behind-the-lock'`);
      expect(Number(stored[0]?.n)).toBe(0);
      await client.query('select pg_advisory_unlock($1)', [IMPORT_LOCK_KEY]);
      expect(await importing).toMatchObject({ status: 'completed', accepted: 1 });
    } finally {
      client.release();
      await holder.close();
    }
  }, 20_000);

  describe('a connection cut while it is checked out', () => {
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let handle: DbHandle;

    beforeAll(async () => {
      proxy = await startProxy(url);
      const viaProxy = new URL(url);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      handle = await createDb({ kind: 'postgres', url: viaProxy.toString(), poolSize: 2 });
      await handle.db.execute(sql`insert into journeys (journey_id, name, attribution_window_hours, reentry) values ('cut', 'Cut', 1, true)`);
      await handle.db.execute(sql`insert into users (external_id) select 'cut-' || lpad(g::text, 100, '0') from generate_series(1, 100000) g`);
      await handle.db.execute(sql`
        insert into entries (journey_id, entry_id, user_id, event_id, entered_at)
        select 'cut', 'c' || u.id, u.id, 'cut-ev-' || u.id, timestamptz '2026-01-01T00:00:00Z' + u.id * interval '1 s' from users u`);
    }, 30_000);

    afterAll(async () => {
      await handle?.close();
      await proxy?.close();
    });

    // Without an error listener on a checked-out client, node-postgres's 'error' event is an uncaught exception,
    // which fails this run (and would end the app).
    it('fails a transaction with an error and the pool answers again', async () => {
      const running = handle.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_sleep(5)`);
      });
      setTimeout(() => proxy.cut(), 300);
      await expect(running).rejects.toThrow();
      expect(await queryRows(handle.db, sql`select 1 as one`)).toEqual([{ one: 1 }]);
    }, 20_000);

    it("fails an export's COPY with an error and the pool answers again", async () => {
      const journey = (await loadJourney(handle.db, 'cut'))!;
      const reader = exportCsvBytes(handle.db, { journey, kind: 'entries', period: ALL_TIME });
      await reader.next(); // the header
      await reader.next(); // the COPY runs
      proxy.cut();
      await expect((async () => {
        for (let r = await reader.next(); !r.done; r = await reader.next());
      })()).rejects.toThrow();
      expect(await queryRows(handle.db, sql`select 1 as one`)).toEqual([{ one: 1 }]);
    }, 20_000);
  });
});
