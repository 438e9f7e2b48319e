// The embedded database on its own thread (db/pglite-thread.ts): PGlite's query and transaction semantics across the
// thread, Postgres' error fields, the app's event loop free while a statement runs, and the thread's end. Runs on
// every test run: it is about the embedded database whatever TEST_DATABASE_URL names.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb, queryRows, toCount, type DbHandle } from '../../db/client.js';
import { DatabaseLockedError } from '../../db/dir-lock.js';
import { PgliteThread, wireOptions } from '../../db/pglite-thread.js';
import { repoRoot, runNode } from '../support/child-process.js';

let thread: PgliteThread;

beforeAll(async () => {
  thread = await PgliteThread.open(undefined);
  await thread.exec('create table t (id int primary key, note text)');
});

afterAll(async () => {
  await thread.close();
});

beforeEach(async () => {
  await thread.query('delete from t');
});

const count = async () => (await thread.query<{ n: number }>('select count(*)::int as n from t')).rows[0]!.n;

describe('PGlite on its own thread', () => {
  it('answers queries with parameters, in either row mode, keeping a type as text when asked', async () => {
    await thread.query('insert into t values ($1, $2), ($3, $4)', [1, 'one', 2, null]);
    expect((await thread.query('select id, note from t order by id')).rows).toEqual([
      { id: 1, note: 'one' },
      { id: 2, note: null },
    ]);
    expect((await thread.query('select id, note from t order by id', [], { rowMode: 'array' })).rows).toEqual([
      [1, 'one'],
      [2, null],
    ]);
    const at = "select '2026-11-30 12:00:00+00'::timestamptz as at";
    expect((await thread.query<{ at: unknown }>(at)).rows[0]!.at).toEqual(new Date('2026-11-30T12:00:00Z'));
    // 1184 = timestamptz: drizzle keeps timestamps as Postgres writes them
    expect((await thread.query<{ at: unknown }>(at, [], { parsers: { 1184: (v) => v } })).rows[0]!.at).toBe('2026-11-30 12:00:00+00');
  });

  it('refuses options that cannot cross the thread, rather than dropping them', () => {
    expect(() => wireOptions({ parsers: { 1184: (v) => new Date(v) } })).toThrow(/type 1184/);
    expect(() => wireOptions({ onNotice: () => {} })).toThrow(/no onNotice option/);
    expect(wireOptions({ rowMode: 'array', parsers: { 1184: (v) => v } })).toEqual({ rowMode: 'array', textOids: [1184] });
  });

  it("reports Postgres' error fields (code, constraint, detail) as PGlite gives them", async () => {
    await thread.query('insert into t values (1, $1)', ['first']);
    const err = (await thread.query('insert into t values (1, $1)', ['again']).catch((e: unknown) => e)) as Record<string, unknown>;
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', constraint: 't_pkey', detail: 'Key (id)=(1) already exists.' });
    expect(err.message).toMatch(/duplicate key value violates unique constraint "t_pkey"/);
  });

  it('commits a transaction whose callback returns, and gives back its result', async () => {
    const result = await thread.transaction(async (tx) => {
      await tx.query('insert into t values (10, $1)', ['kept']);
      return (await tx.query<{ n: number }>('select count(*)::int as n from t')).rows[0]!.n;
    });
    expect(result).toBe(1);
    expect(await count()).toBe(1);
  });

  it('rolls back a transaction whose callback throws, and reports the callback’s error', async () => {
    const failure = new Error('the callback failed');
    await expect(
      thread.transaction(async (tx) => {
        await tx.query('insert into t values (11, $1)', ['dropped']);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await count()).toBe(0);
  });

  it('rolls back on rollback(), without an error, and closes the transaction to later queries', async () => {
    let closedTx: { query(sql: string): Promise<unknown>; closed: boolean } | undefined;
    await thread.transaction(async (tx) => {
      await tx.query('insert into t values (12, $1)', ['dropped']);
      await tx.rollback();
      closedTx = tx;
    });
    expect(await count()).toBe(0);
    expect(closedTx!.closed).toBe(true);
    await expect(closedTx!.query('select 1')).rejects.toThrow('Transaction is closed');
  });

  it('fails the commit of a transaction a failed statement aborted, and keeps none of it', async () => {
    await thread.query('insert into t values (13, $1)', ['there']);
    await expect(
      thread.transaction(async (tx) => {
        await tx.query('insert into t values (14, $1)', ['dropped']);
        await tx.query('insert into t values (13, $1)', ['duplicate']).catch(() => {});
      }),
    ).rejects.toThrow();
    expect((await thread.query('select id from t')).rows).toEqual([{ id: 13 }]);
  });

  it('holds other queries until an open transaction ends, as PGlite does', async () => {
    let seen: number | undefined;
    let outside: Promise<void> | undefined;
    await thread.transaction(async (tx) => {
      await tx.query('insert into t values (20, $1)', ['in the transaction']);
      outside = count().then((n) => void (seen = n));
      // several round trips to the thread: the outside query stays behind the transaction
      for (let i = 0; i < 5; i++) await tx.query('select 1');
      expect(seen).toBeUndefined();
    });
    await outside;
    expect(seen).toBe(1);
  });

  it('leaves the event loop free while a statement runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const sum = await thread.query<{ s: string }>('select sum(g)::text as s from generate_series(1, 3000000) g');
      expect(sum.rows[0]!.s).toBe('4500001500000');
    } finally {
      clearInterval(timer);
    }
    // In the app's own thread the statement ran to its end with no timer in between; here the timer runs beside it.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('fails what is in flight, and everything after, when its thread stops', async () => {
    const doomed = await PgliteThread.open(undefined);
    const inFlight = doomed.query('select sum(g) from generate_series(1, 3000000) g');
    await (doomed as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(inFlight).rejects.toThrow(/thread stopped/);
    await expect(doomed.query('select 1')).rejects.toThrow(/thread stopped/);
    await doomed.close();
  });

  it('refuses queries once closed', async () => {
    const closing = await PgliteThread.open(undefined);
    expect((await closing.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await closing.close();
    await expect(closing.query('select 1')).rejects.toThrow('the embedded database is closed');
  });
});

describe('the embedded database in a process', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'ja-thread-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('does not keep a process alive once nothing waits for it', async () => {
    // A script that opens, queries and never closes: it ends as it would with PGlite in its own thread.
    const script = path.join(work, 'open-and-leave.mts');
    const client = pathToFileURL(path.join(repoRoot, 'db/client.ts')).href;
    writeFileSync(
      script,
      `import { createDb } from '${client}';\n` +
        `const handle = await createDb({ kind: 'pglite' });\n` +
        `console.log(JSON.stringify((await handle.db.execute('select 41 + 1 as answer')).rows));\n`,
    );
    const child = runNode(script, [], {});
    const exited = await child.exited;
    expect(child.stderr()).toBe('');
    expect(exited).toEqual({ code: 0, signal: null });
    expect(child.stdout().trim()).toBe('[{"answer":42}]');
  });

  it('opens a folder once at a time: a second open in the same process is refused until the first closes', async () => {
    const dir = path.join(work, 'db');
    let first: DbHandle | undefined = await createDb({ kind: 'pglite', dir });
    try {
      await first.db.execute(sql`create table kept (n int)`);
      await first.db.execute(sql`insert into kept values (1)`);
      const second = await createDb({ kind: 'pglite', dir }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(DatabaseLockedError);
      expect((second as Error).message).toContain(`is in use by process ${process.pid}`);
      await first.close();
      first = undefined;
      const reopened = await createDb({ kind: 'pglite', dir });
      try {
        const rows = await queryRows<{ n: unknown }>(reopened.db, sql`select count(*) as n from kept`);
        expect(toCount(rows[0]!.n)).toBe(1);
      } finally {
        await reopened.close();
      }
    } finally {
      await first?.close();
    }
  });
});
