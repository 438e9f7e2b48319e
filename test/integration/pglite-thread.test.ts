// The embedded database on its own thread (db/pglite-thread.ts): PGlite's query and transaction semantics across the
// thread, Postgres' error fields, the app's event loop free while a statement runs, and the thread's end. Runs on
// every test run: it is about the embedded database whatever TEST_DATABASE_URL names.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDb, queryRows, toCount, type DbHandle } from '../../db/client.js';
import { DatabaseLockedError } from '../../db/dir-lock.js';
import { PgliteThread, wireOptions } from '../../db/pglite-thread.js';
import { answerForError, isUnavailable, UNAVAILABLE_TEXT } from '../../commands/error-answers.js';
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

/** Ends a database's thread as a crash would (the thread exits with code 1). */
async function killThread(handle: DbHandle): Promise<void> {
  const client = (handle.db as unknown as { $client: { worker: { terminate(): Promise<number> } } }).$client;
  await client.worker.terminate();
}

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

  it('fails what is in flight and everything after as "unavailable" when its thread stops, and says it is lost', async () => {
    const handle = await createDb({ kind: 'pglite' });
    const lost = vi.fn();
    void handle.lost!.then(lost);
    const inFlight = queryRows(handle.db, sql`select sum(g) from generate_series(1, 3000000) g`).catch((e: unknown) => e);
    await killThread(handle);
    const err = await inFlight;
    expect(isUnavailable(err)).toBe(true);
    expect(answerForError(err).answer).toMatchObject({ message: { text: expect.stringContaining(UNAVAILABLE_TEXT) } });
    const after = await queryRows(handle.db, sql`select 1`).catch((e: unknown) => e);
    expect(isUnavailable(after)).toBe(true);
    expect(String((after as Error).cause)).toMatch(/the embedded database's thread stopped \(exit code 1\); restart the app/);
    await vi.waitFor(() => expect(lost).toHaveBeenCalledWith(expect.objectContaining({ code: '57P01' })));
    await handle.close();
  });

  it('refuses queries once closed; closing twice at once closes once, and is not a loss', async () => {
    const closing = await PgliteThread.open(undefined);
    const lost = vi.fn();
    void closing.lost.then(lost);
    expect((await closing.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await Promise.all([closing.close(), closing.close()]);
    await expect(closing.query('select 1')).rejects.toThrow('the embedded database is closed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lost).not.toHaveBeenCalled();
  });

  it('fails a query whose parameters cannot cross the thread, and answers the next one', async () => {
    await expect(thread.query('select $1', [() => 1])).rejects.toThrow(/could not be cloned/);
    expect((await thread.query('select 2 as two')).rows).toEqual([{ two: 2 }]);
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
    // A script that opens databases and never closes them: one queried, one never queried, one that refused a
    // query's parameters. It ends as it would with PGlite in its own thread.
    const script = path.join(work, 'open-and-leave.mts');
    const module = (file: string) => pathToFileURL(path.join(repoRoot, file)).href;
    writeFileSync(
      script,
      `import { createDb } from '${module('db/client.ts')}';\n` +
        `import { PgliteThread } from '${module('db/pglite-thread.ts')}';\n` +
        `const handle = await createDb({ kind: 'pglite' });\n` +
        `console.log(JSON.stringify((await handle.db.execute('select 41 + 1 as answer')).rows));\n` +
        `await PgliteThread.open(undefined);\n` +
        `const refusing = await PgliteThread.open(undefined);\n` +
        `await refusing.query('select $1', [() => 1]).catch(() => console.log('refused'));\n`,
    );
    const child = runNode(script, [], {});
    // A process kept alive is the failure; it is killed so that it does not outlive the test.
    const stillRunning = setTimeout(() => child.child.kill('SIGKILL'), 45_000);
    const exited = await child.exited;
    clearTimeout(stillRunning);
    expect(child.stderr()).toBe('');
    expect(exited, 'the process did not end by itself').toEqual({ code: 0, signal: null });
    expect(child.stdout().trim().split('\n')).toEqual(['[{"answer":42}]', 'refused']);
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
      const closedOnce = first;
      await first.close();
      first = undefined;
      const reopened = await createDb({ kind: 'pglite', dir });
      try {
        const rows = await queryRows<{ n: unknown }>(reopened.db, sql`select count(*) as n from kept`);
        expect(toCount(rows[0]!.n)).toBe(1);
        // the first handle closed a second time does not release the folder from the handle that has it now
        await closedOnce.close();
        await expect(createDb({ kind: 'pglite', dir })).rejects.toThrow(`is in use by process ${process.pid} (this one)`);
      } finally {
        await reopened.close();
      }
    } finally {
      await first?.close();
    }
  });
});
