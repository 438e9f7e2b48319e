// A COPY that fails partway through its rows (step entries and messages reach the database by COPY): the batch's
// transaction rolls back whole, the import is recorded as failed with the batches before it kept, the connection
// serves what comes next, and the same file imported again completes it. On both databases (Postgres with
// TEST_DATABASE_URL: a node-postgres client's COPY FROM STDIN; else PGlite's thread and its COPY FROM '/dev/blob').
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyInto, queryRows, toCount, type Db } from '../../db/client.js';
import { importEvents } from '../../db/import/import-events.js';
import { imports } from '../../db/schema.js';
import { eventLines, openTestDb, type TestDb } from '../support/test-db.js';

/** When set, the next copyText of a batch's rows gets a malformed row in its middle (a step id where an int goes). */
const sabotage = vi.hoisted(() => ({ next: false, done: 0 }));

vi.mock('../../db/client.js', async (original) => {
  const real = await original<typeof import('../../db/client.js')>();
  return {
    ...real,
    copyText: (rows: Parameters<typeof real.copyText>[0]) => {
      const text = real.copyText(rows);
      if (!sabotage.next) return text;
      sabotage.next = false;
      sabotage.done++;
      const lines = text.split('\n');
      const middle = Math.floor(lines.length / 2);
      const fields = lines[middle]!.split('\t');
      fields[4] = 'not-a-user-id';
      lines[middle] = fields.join('\t');
      return lines.join('\n');
    },
  };
});

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

const JOURNEY = { type: 'journey', journey_id: 'j', name: 'J', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [{ step_id: 's1', name: 'S1', kind: 'push', next: [] }] };

/** `n` entries, each with a step entry: one batch of `batchSize` lines holds batchSize / 2 of them. */
function lines(n: number): unknown[] {
  const out: unknown[] = [JOURNEY];
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.UTC(2026, 10, 1, 9, 0, i)).toISOString();
    out.push(
      { type: 'journey_entry', event_id: `en-${i}`, journey_id: 'j', entry_id: `e-${i}`, external_id: `u-${i}`, at },
      { type: 'step_entry', event_id: `se-${i}`, journey_id: 'j', entry_id: `e-${i}`, step_id: 's1', at },
    );
  }
  return out;
}

const count = async (table: string) => toCount((await queryRows<{ n: unknown }>(db.db, sql`select count(*) as n from ${sql.identifier(table)}`))[0]!.n);

describe('a COPY that fails partway', () => {
  it('fails its batch whole, keeps the batches before, and the same file imported again completes it', async () => {
    const events = lines(300);
    // Batches of 200 lines: the first (the journey line goes alone, then 200 event lines) commits; the second's
    // step-entry COPY fails on its middle row.
    let progress = 0;
    const failing = importEvents(db.db, eventLines(events), {
      source: 'copy-failure',
      batchSize: 200,
      onProgress: () => {
        // The journey line's progress, then the first batch's: sabotage the batch after that.
        progress++;
        if (progress === 2) sabotage.next = true;
      },
    });
    await expect(failing).rejects.toThrow(/not-a-user-id|invalid input syntax for type integer/);
    expect(sabotage.done).toBe(1);

    // The first batch (100 entries, 100 step entries) is kept; nothing of the failed one is.
    expect(await count('entries')).toBe(100);
    expect(await count('step_entries')).toBe(100);
    expect(await count('event_ids')).toBe(200);
    const [failed] = await db.db.select().from(imports).where(sql`${imports.source} = 'copy-failure'`);
    expect(failed).toMatchObject({ status: 'failed', accepted: 201 });

    // The connection (or the PGlite thread) serves the next import: the same file again completes it.
    const again = await importEvents(db.db, eventLines(events), { source: 'copy-failure, again', batchSize: 200 });
    expect(again).toMatchObject({ status: 'completed', accepted: 1 + 400, duplicates: 200, rejected: 0 });
    expect(await count('entries')).toBe(300);
    expect(await count('step_entries')).toBe(300);
    const rollup = await queryRows<{ entries: unknown }>(db.db, sql`select sum(entries) as entries from step_entry_rollups where grain = 'day'`);
    expect(toCount(rollup[0]!.entries)).toBe(300);
  });

  it('a transaction whose COPY failed rolls back, and the database answers at once', async () => {
    const pending = (db.db as Db).transaction(async (tx) => {
      await tx.execute(sql`create temporary table copy_probe (n int) on commit drop`);
      await copyInto(tx as unknown as Db, 'copy_probe', ['n'], '1\n2\nthree\n4\n');
    });
    await expect(pending).rejects.toThrow(/three/);
    expect(await queryRows<{ one: number }>(db.db, sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });
});
