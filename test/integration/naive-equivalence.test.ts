// The fast engine (rollups + derived state) equals the naive baseline (plain SQL over raw events) after imports full
// of late and out-of-order lines, for all time and for periods on and off the hour; and the rollups kept batch by
// batch equal a rebuild from the stored rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDb, queryRows, type Db, type DbHandle } from '../../db/client.js';
import * as schema from '../../db/schema.js';
import { importEvents, type ImportSummary } from '../../db/import/import-events.js';
import { rebuildRollups, recomputeAllDerivedState } from '../../db/import/derived-state.js';
import { computeReport, loadJourney, splitPeriod } from '../../reports/metrics.js';
import { computeNaiveReport } from '../../reports/naive-metrics.js';
import type { Period } from '../../reports/report-types.js';
import { openTestDb, type TestDb } from '../support/test-db.js';
import { mulberry32 } from '../../db/seeded-random.js';

const BASE = Date.UTC(2026, 10, 1); // 2026-11-01T00:00:00Z
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(BASE + ms).toISOString();

const random = mulberry32;

type Line = Record<string, unknown>;

const journeyLines: Line[] = [
  {
    type: 'journey',
    journey_id: 'late',
    name: 'Late events',
    conversion_event: 'purchase',
    attribution_window_hours: 6,
    reentry: true,
    steps: [
      { step_id: 'p', name: 'Push', kind: 'push', next: ['w'] },
      { step_id: 'w', name: 'Wait', kind: 'wait', next: ['m', 'c'] },
      { step_id: 'm', name: 'Email', kind: 'email', next: [] },
      { step_id: 'c', name: 'Webhook', kind: 'custom', next: ['p'] },
    ],
  },
  {
    type: 'journey',
    journey_id: 'once',
    name: 'No re-entry, no conversion event',
    conversion_event: null,
    attribution_window_hours: 0,
    reentry: false,
    steps: [
      { step_id: 'a', name: 'In-app', kind: 'in_app', next: ['b'] },
      { step_id: 'b', name: 'SMS', kind: 'sms', next: [] },
    ],
  },
];

interface Scenario {
  /** Import after import: each list is one import, in its (shuffled) line order. */
  imports: Line[][];
}

/**
 * Entries over four days at odd minutes, with re-entries (some earlier than a stored entry of the same user), loops
 * through steps, messages of every status and platform spelling, outcomes, exits and conversions (before the entry,
 * in the journey, after the exit inside and outside the window, other event names), spread over imports so that
 * exits, conversions and step entries arrive after what they change, with re-imported lines and events before
 * their entry line.
 */
function scenario(seed: number): Scenario {
  const r = random(seed);
  const pick = <T,>(items: readonly T[]) => items[Math.floor(r() * items.length)]!;
  let ev = 0;
  const id = () => `ev-${seed}-${++ev}`;
  const early: Line[] = [];
  const later: Line[] = [];
  const last: Line[] = [];
  const place = (line: Line) => (r() < 0.5 ? early : r() < 0.6 ? later : last).push(line);
  const users = 25;
  const onceUsers = new Set<number>();
  for (let n = 0; n < 90; n++) {
    const journey = r() < 0.75 ? 'late' : 'once';
    const user = Math.floor(r() * users);
    if (journey === 'once') {
      if (onceUsers.has(user)) continue;
      onceUsers.add(user);
    }
    const entryId = `${journey}-e${n}`;
    const enteredMs = Math.floor(r() * 4 * DAY) + pick([0, 7 * MIN, 31 * MIN, 59 * MIN + 59_999]);
    const entryLine = { type: 'journey_entry', event_id: id(), journey_id: journey, entry_id: entryId, external_id: `u${user}`, at: at(enteredMs) };
    // Late entries (earlier in time than stored ones) come in the last import.
    (r() < 0.15 ? last : r() < 0.7 ? early : later).push(entryLine);
    const steps = journey === 'late' ? ['p', 'w', 'm', 'c', 'p'] : ['a', 'b'];
    let t = enteredMs;
    const visits = Math.floor(r() * (steps.length + 1));
    for (let s = 0; s < visits; s++) {
      t += Math.floor(r() * 3 * HOUR);
      const step = steps[s]!;
      place({ type: 'step_entry', event_id: id(), journey_id: journey, entry_id: entryId, step_id: step, at: at(t) });
      if (['p', 'm', 'a', 'b'].includes(step)) {
        for (let k = Math.floor(r() * 3); k > 0; k--) {
          const platform = pick(['android', 'iOS', 'web', 'Windows', null, null]);
          place({
            type: 'message', event_id: id(), journey_id: journey, entry_id: entryId, step_id: step,
            status: pick(['sent', 'sent', 'failed', 'shown', 'clicked']), ...(platform === null ? {} : { platform }), at: at(t + k * MIN),
          });
        }
      }
      if (step === 'c') place({ type: 'step_outcome', event_id: id(), journey_id: journey, entry_id: entryId, step_id: step, outcome: pick(['ok', 'timeout']), at: at(t) });
    }
    if (r() < 0.7) {
      const exitMs = t + Math.floor(r() * 5 * HOUR);
      place({ type: 'journey_exit', event_id: id(), journey_id: journey, entry_id: entryId, at: at(exitMs) });
      for (let c = Math.floor(r() * 3); c > 0; c--) {
        const convMs = exitMs + pick([-HOUR, 0, 2 * HOUR, 6 * HOUR, 6 * HOUR + 1, 3 * DAY]) + Math.floor(r() * 30 * MIN);
        place({ type: 'conversion', event_id: id(), external_id: `u${user}`, event: pick(['purchase', 'purchase', 'signup']), at: at(convMs) });
      }
    } else if (r() < 0.5) {
      place({ type: 'conversion', event_id: id(), external_id: `u${user}`, event: 'purchase', at: at(enteredMs + pick([-2 * HOUR, 10 * MIN, 20 * DAY])) });
    }
  }
  const shuffle = (lines: Line[]) => {
    for (let i = lines.length - 1; i > 0; i--) {
      const k = Math.floor(r() * (i + 1));
      [lines[i], lines[k]] = [lines[k]!, lines[i]!];
    }
    return lines;
  };
  return {
    imports: [
      [...journeyLines, ...shuffle(early)],
      shuffle([...later, ...early.slice(0, 40)]),
      shuffle([...last, ...later.slice(0, 25)]),
    ],
  };
}

const periods = (): Period[] => {
  const p = (from: number | null, to: number | null): Period => ({
    from: from === null ? null : new Date(BASE + from),
    to: to === null ? null : new Date(BASE + to),
  });
  return [
    p(null, null),
    p(0, DAY), // a UTC day: day rollups only
    p(DAY, 3 * DAY),
    p(-3 * HOUR, 2 * DAY + 5 * HOUR), // whole hours around whole days
    p(5 * HOUR + 30 * MIN - DAY, 5 * HOUR + 30 * MIN + DAY), // two days from 05:30: hours, days and raw half hours
    p(DAY - 18 * HOUR - 30 * MIN, 2 * DAY - 18 * HOUR - 30 * MIN), // a day at +05:30 (raw half hours)
    // two days from 05:30 inside the data: rows of the whole day whose previous row falls in its first, partial day
    p(DAY + 5 * HOUR + 30 * MIN, 3 * DAY + 5 * HOUR + 30 * MIN),
    p(7 * MIN, 59 * MIN), // inside one hour: raw only
    p(31 * MIN, 3 * HOUR + 1), // a few hours and two raw pieces
    p(2 * DAY + 1, null), // open end
    p(null, DAY + 59 * MIN + 59_999),
    p(2 * DAY, 2 * DAY), // empty
    p(40 * DAY, 50 * DAY), // after all data
  ];
};

let testDb: TestDb;
let db: Db;
const tables = Object.values(schema).flatMap((t) => (is(t, PgTable) ? [`"${getTableName(t)}"`] : []));

beforeAll(async () => {
  testDb = await openTestDb();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.close();
});

async function* each(lines: Line[]): AsyncIterable<string> {
  for (const l of lines) yield JSON.stringify(l);
}

async function expectEngineEqualsNaive(on: Db = db): Promise<void> {
  for (const journeyId of ['late', 'once']) {
    const journey = await loadJourney(on, journeyId);
    if (!journey) throw new Error(`journey ${journeyId} missing`);
    for (const period of periods()) {
      const fast = await computeReport(on, journey, period);
      const naive = await computeNaiveReport(on, journey, period);
      expect({ journeyId, period: fast.period, report: fast }).toEqual({ journeyId, period: fast.period, report: naive });
    }
  }
}

const ROLLUPS = ['entry_rollups', 'step_entry_rollups', 'message_rollups', 'outcome_rollups', 'entry_revisit_rollups', 'step_revisit_rollups'] as const;

/** The rollup rows with a non-zero count, in a stable order, for comparing incremental upkeep with a rebuild. */
async function rollupSnapshot(on: Db = db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ROLLUPS) {
    const rows = await queryRows<Record<string, unknown>>(on, sql.raw(`select * from ${table}`));
    out[table] = rows
      .map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : typeof v === 'number' || typeof v === 'string' ? String(v) : v])))
      .filter((row) => Object.entries(row).some(([k, v]) => !['journey_id', 'grain', 'bucket', 'entered_day', 'prev_day', 'last_step_id', 'step_id', 'status', 'platform', 'outcome'].includes(k) && v !== '0'))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return out;
}

async function derivedSnapshot(): Promise<unknown[]> {
  return [
    ...(await queryRows(db, sql`
      select journey_id, entry_id, prev_entered_at, last_step_id, last_step_at, last_step_event_id, conversion_count, first_conversion
      from entries order by journey_id, entry_id`)),
    ...(await queryRows(db, sql`select event_id, prev_entered_at from step_entries order by event_id`)),
    ...(await queryRows(db, sql`select * from conversion_attributions order by journey_id, event_id`)),
    ...(await queryRows(db, sql`select * from first_conversions order by journey_id, user_id`)),
  ];
}

describe('the fast engine equals the naive baseline under late and out-of-order events', () => {
  it.each([
    { seed: 1, batchSize: 7 },
    { seed: 2, batchSize: 50 },
    { seed: 3, batchSize: 5000 },
    { seed: 4, batchSize: 1 },
  ])('seed $seed, batch size $batchSize: after every import, all time and thirteen periods', async ({ seed, batchSize }) => {
    await db.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
    const { imports } = scenario(seed);
    const summaries: ImportSummary[] = [];
    for (const lines of imports) {
      summaries.push(await importEvents(db, each(lines), { source: `seed ${seed}`, batchSize }));
      await expectEngineEqualsNaive();
    }
    // Everything once more: duplicates are skipped, and the events rejected earlier for naming an entry of a later
    // import are accepted now (late events in the widest sense).
    await importEvents(db, each(imports.flat()), { source: 'again', batchSize });
    await expectEngineEqualsNaive();
    expect(summaries.reduce((n, s) => n + s.accepted, 0)).toBeGreaterThan(200);
    // The period from 05:30 has rows of its whole day whose previous row lies in its partial first day (read by
    // the previous row's time, not from the revisit cells), for entries and for step entries.
    for (const table of ['entries', 'step_entries']) {
      const [row] = await queryRows<{ n: unknown }>(db, sql`
        select count(*) as n from ${sql.identifier(table)}
        where prev_entered_at >= ${at(DAY + 5 * HOUR + 30 * MIN)} and prev_entered_at < ${at(2 * DAY)}
          and entered_at >= ${at(2 * DAY)} and entered_at < ${at(3 * DAY)}`);
      expect({ table, rows: Number(row!.n) > 0 }).toEqual({ table, rows: true });
    }

    const incremental = await rollupSnapshot();
    await rebuildRollups(db, null);
    expect(await rollupSnapshot()).toEqual(incremental);

    // Every derived column kept batch by batch equals a recomputation from the raw rows.
    const derived = await derivedSnapshot();
    await recomputeAllDerivedState(db);
    expect(await derivedSnapshot()).toEqual(derived);
    expect(await rollupSnapshot()).toEqual(incremental);
  });
});

describe('a database that holds events from before the revisit cells', () => {
  it('gets them from the migration that adds them: equal to a rebuild, and reports equal to the naive baseline', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ja-migrate-'));
    const old = await openTestDb({ pgliteDir: path.join(dir, 'db') });
    let oldOpen = true;
    let migrated: DbHandle | undefined;
    try {
      for (const lines of scenario(5).imports) await importEvents(old.db, each(lines), { source: 'before', batchSize: 40 });
      // Back to the schema before migration 0001: without its tables and indexes, and not on record as applied.
      const journal = JSON.parse(readFileSync(new URL('../../db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as {
        entries: Array<{ tag: string; when: number }>;
      };
      const revisits = journal.entries.find((e) => e.tag === '0001_revisit_rollups')!;
      for (const statement of [
        sql`drop table entry_revisit_rollups, step_revisit_rollups`,
        sql`drop index entries_prev_idx, step_entries_prev_idx`,
        sql`delete from drizzle.__drizzle_migrations where created_at = ${revisits.when}`,
      ]) {
        await old.db.execute(statement);
      }
      // Opened again, the database migrates; an embedded one is a folder that one process opens at a time.
      if (old.kind === 'pglite') {
        oldOpen = false;
        await old.close();
      }
      migrated = await createDb(old.config);
      const snapshot = await rollupSnapshot(migrated.db);
      expect(snapshot.step_revisit_rollups!.length).toBeGreaterThan(10);
      await expectEngineEqualsNaive(migrated.db);
      await rebuildRollups(migrated.db, null);
      expect(await rollupSnapshot(migrated.db)).toEqual(snapshot);
    } finally {
      await migrated?.close();
      if (oldOpen) await old.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('splitPeriod', () => {
  it('reads whole days and whole hours from rollups and only the rest from raw rows', () => {
    const parts = splitPeriod({ from: new Date(BASE - 30 * MIN), to: new Date(BASE + 2 * DAY + 90 * MIN + 1) });
    expect(parts).toEqual({
      days: { from: BASE, to: BASE + 2 * DAY },
      hours: [{ from: BASE + 2 * DAY, to: BASE + 2 * DAY + HOUR }],
      raw: [
        { from: BASE - 30 * MIN, to: BASE },
        { from: BASE + 2 * DAY + HOUR, to: BASE + 2 * DAY + 90 * MIN + 1 },
      ],
    });
    expect(splitPeriod({ from: null, to: null })).toEqual({ days: { from: null, to: null }, hours: [], raw: [] });
    expect(splitPeriod({ from: new Date(BASE + MIN), to: new Date(BASE + 2 * MIN) })).toEqual({
      days: null,
      hours: [],
      raw: [{ from: BASE + MIN, to: BASE + 2 * MIN }],
    });
  });
});
