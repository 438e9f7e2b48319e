// Every rule of EVENTS.md as a scenario with explicit UTC timestamps: what an import accepts, skips and rejects, and what the metrics then say.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { queryRows, toCount, type Db } from '../../db/client.js';
import * as schema from '../../db/schema.js';
import { importEvents, readLines, type ImportOptions, type ImportSummary, type Rejection } from '../../db/import/import-events.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { computeNaiveReport } from '../../reports/naive-metrics.js';
import type { JourneyReport, Overview, Period } from '../../reports/report-types.js';
import { openTestDb, type TestDb } from '../support/test-db.js';
import type {
  ContractLine,
  ConversionLine,
  JourneyEntryLine,
  JourneyExitLine,
  JourneyLine,
  MessageLine,
  StepEntryLine,
  StepOutcomeLine,
} from '../support/reference-metrics.js';

const WELCOME = 'welcome';
const ALL_TIME: Period = { from: null, to: null };
const day = (date: string): Period => ({
  from: new Date(`${date}T00:00:00Z`),
  to: new Date(new Date(`${date}T00:00:00Z`).getTime() + 86_400_000),
});
const workedExamples = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/events.ndjson', import.meta.url));

function journeyDef(overrides: Partial<JourneyLine> = {}): JourneyLine {
  return {
    type: 'journey',
    journey_id: WELCOME,
    name: 'Welcome series',
    conversion_event: 'purchase',
    attribution_window_hours: 24,
    reentry: true,
    steps: [
      { step_id: 's1', name: 'Welcome push', kind: 'push', campaign_id: 'cmp-101', next: ['s2'] },
      { step_id: 's2', name: 'Welcome email', kind: 'email', campaign_id: 'cmp-102', next: ['s3'] },
      { step_id: 's3', name: 'Reminder SMS', kind: 'sms', next: [] },
    ],
    ...overrides,
  };
}
const entry = (entryId: string, user: string, at: string, journeyId = WELCOME): JourneyEntryLine => ({
  type: 'journey_entry',
  event_id: `${journeyId}-${entryId}-en`,
  journey_id: journeyId,
  entry_id: entryId,
  external_id: user,
  at,
});
const stepEntry = (entryId: string, stepId: string, at: string, journeyId = WELCOME): StepEntryLine => ({
  type: 'step_entry',
  event_id: `${journeyId}-${entryId}-${stepId}`,
  journey_id: journeyId,
  entry_id: entryId,
  step_id: stepId,
  at,
});
const message = (
  eventId: string,
  entryId: string,
  stepId: string,
  status: MessageLine['status'],
  at: string,
  platform?: string,
): MessageLine => ({
  type: 'message',
  event_id: eventId,
  journey_id: WELCOME,
  entry_id: entryId,
  step_id: stepId,
  status,
  ...(platform === undefined ? {} : { platform }),
  at,
});
const outcome = (eventId: string, entryId: string, stepId: string, result: string, at: string): StepOutcomeLine => ({
  type: 'step_outcome',
  event_id: eventId,
  journey_id: WELCOME,
  entry_id: entryId,
  step_id: stepId,
  outcome: result,
  at,
});
const exit = (entryId: string, at: string, eventId = `${WELCOME}-${entryId}-ex`): JourneyExitLine => ({
  type: 'journey_exit',
  event_id: eventId,
  journey_id: WELCOME,
  entry_id: entryId,
  at,
});
const conversion = (eventId: string, user: string, at: string, event = 'purchase'): ConversionLine => ({
  type: 'conversion',
  event_id: eventId,
  external_id: user,
  event,
  at,
});

let testDb: TestDb;
let db: Db;
const tables = Object.values(schema)
  .flatMap((t) => (is(t, PgTable) ? [getTableName(t)] : []));

beforeAll(async () => {
  testDb = await openTestDb();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.close();
});
beforeEach(async () => {
  await db.execute(sql.raw(`truncate ${tables.map((t) => `"${t}"`).join(', ')} restart identity cascade`));
});

async function* each(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

function run(lines: ReadonlyArray<ContractLine | string>, options: Partial<ImportOptions> = {}): Promise<ImportSummary> {
  const raw = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
  return importEvents(db, each(raw), { source: 'test', ...options });
}

async function report(journeyId = WELCOME, period = ALL_TIME): Promise<JourneyReport> {
  const journey = await loadJourney(db, journeyId);
  if (!journey) throw new Error(`journey "${journeyId}" is not defined`);
  return computeReport(db, journey, period);
}

async function overview(period = ALL_TIME): Promise<Overview> {
  return (await report(WELCOME, period)).overview;
}

async function step(stepId: string, period = ALL_TIME) {
  const found = (await report(WELCOME, period)).steps.find((s) => s.step_id === stepId);
  if (!found) throw new Error(`no step ${stepId} in the report`);
  return found;
}

/** Rejections by line number: lines resolved in a later pass may be reported after later lines. */
const byLine = (rejections: Rejection[]) => [...rejections].sort((a, b) => a.line - b.line);

async function rowCounts(except: string[] = []): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables.filter((t) => !except.includes(t))) {
    const [row] = await queryRows<{ n: unknown }>(db, sql.raw(`select count(*) as n from "${table}"`));
    counts[table] = toCount(row?.n);
  }
  return counts;
}

const workedExampleLines = () => readFileSync(workedExamples, 'utf8').split('\n').filter((l) => l !== '');

describe('event_id is unique across all events', () => {
  it.each([1, 1000])('a repeated event_id within one import is skipped and counted (batch size %i)', async (batchSize) => {
    const summary = await run(
      [
        journeyDef(),
        entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
        message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
        message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
        message('m-1', 'en-1', 's1', 'failed', '2026-11-01T09:05:00Z'),
        conversion('cv-1', 'u-1', '2026-11-01T10:00:00Z'),
        conversion('cv-1', 'u-1', '2026-11-01T10:00:00Z'),
      ],
      { batchSize },
    );
    // journey, en-1, m-1, cv-1 accepted; the two later m-1 lines and the second cv-1 are duplicates
    expect(summary).toMatchObject({ status: 'completed', lines: 7, accepted: 4, duplicates: 3, rejected: 0 });
    expect(await overview()).toMatchObject({ messages_sent: 1, conversion_events: 1, converted_users: 1 });
    // the first m-1 (sent) is the one stored
    expect(await step('s1')).toMatchObject({ sent: 1, failed: 0 });
  });

  it('an event_id stored by an earlier import is skipped and counted', async () => {
    const first = [
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
      conversion('cv-1', 'u-1', '2026-11-01T10:00:00Z'),
    ];
    await run(first);
    const second = await run([...first, message('m-2', 'en-1', 's2', 'sent', '2026-11-01T09:30:00Z')]);
    // the journey line always counts as accepted; m-2 is new; the other 3 are stored already
    expect(second).toMatchObject({ accepted: 2, duplicates: 3, rejected: 0 });
    // m-1 + m-2; cv-1 counted once
    expect(await overview()).toMatchObject({ messages_sent: 2, conversion_events: 1, total_entries: 1 });
  });

  it('an event_id is a duplicate whatever the type of the event that has it, across imports', async () => {
    await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      message('ev-2', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
    ]);
    const second = await run([
      conversion('ev-2', 'u-1', '2026-11-01T10:00:00Z'),
      { ...stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'), event_id: 'welcome-en-1-en' },
      { ...entry('en-2', 'u-2', '2026-11-01T09:00:00Z'), event_id: 'welcome-en-1-en' },
    ]);
    expect(second).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0 });
    // none of the three was stored: no conversion, no step entry, no second entry
    expect(await overview()).toMatchObject({ conversion_events: 0, converted_users: 0, total_entries: 1 });
    expect(await step('s1')).toMatchObject({ entry_count: 0, sent: 1 });
  });

  it('an event_id is a duplicate whatever the type of the event that has it, within one import', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      message('ev-2', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
      conversion('ev-2', 'u-1', '2026-11-01T10:00:00Z'),
      exit('en-1', '2026-11-01T12:00:00Z', 'ev-2'),
    ]);
    expect(summary).toMatchObject({ accepted: 3, duplicates: 2, rejected: 0 });
    // the conversion and the exit were skipped: not converted, not exited
    expect(await overview()).toMatchObject({ messages_sent: 1, conversion_events: 0, total_exits: 0 });
  });

  it('the first line with an event_id wins even when it has to wait for its entry', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-2', 'u-2', '2026-11-01T09:00:00Z'),
      message('ev-x', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
      message('ev-x', 'en-2', 's1', 'failed', '2026-11-01T09:00:01Z'),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
    ]);
    // line 3 (en-1's sent message) is stored once en-1 is known; line 4 is its duplicate
    expect(summary).toMatchObject({ accepted: 4, duplicates: 1, rejected: 0 });
    expect(await step('s1')).toMatchObject({ sent: 1, failed: 0 });
  });

  it.each([1, 1000])('a rejected line does not take its event_id: a later line with it is accepted (batch size %i)', async (batchSize) => {
    const summary = await run(
      [
        journeyDef(),
        entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
        message('ev-x', 'en-1', 's9', 'sent', '2026-11-01T09:00:01Z'),
        message('ev-x', 'en-1', 's1', 'clicked', '2026-11-01T09:00:02Z'),
      ],
      { batchSize },
    );
    // line 3 names no step of the journey, so ev-x is not stored when line 4 comes
    expect(summary).toMatchObject({ accepted: 3, duplicates: 0, rejected: 1 });
    expect(await step('s1')).toMatchObject({ sent: 0, clicked: 1 });
  });

  // A batch claims its event_ids while the one before it still writes (on Postgres, in another transaction): a
  // claim that ran ahead of the previous batch's would take its ids from the earlier lines, or leave the two batches
  // waiting on each other.

  /** The journey with 20 entries stored, and `count` sent messages of them with ids m-0000… in id order. */
  async function twentyEntriesAndMessages(count: number): Promise<ContractLine[]> {
    const entries: ContractLine[] = [journeyDef()];
    for (let i = 0; i < 20; i++) entries.push(entry(`en-${i}`, `u-${i}`, '2026-11-01T09:00:00Z'));
    await run(entries);
    return Array.from({ length: count }, (_, i) => message(`m-${String(i).padStart(5, '0')}`, `en-${i % 20}`, 's1', 'sent', '2026-11-01T09:00:01Z'));
  }

  /** Writes each set of lines to an NDJSON file of a fresh folder, runs `body` with the files, removes the folder. */
  async function withFiles<T>(lineSets: ContractLine[][], body: (files: string[]) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(path.join(tmpdir(), 'import-rules-'));
    try {
      const files = lineSets.map((lines, i) => {
        const file = path.join(dir, `${i}.ndjson`);
        writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
        return file;
      });
      return await body(files);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('when every batch repeats an event_id of the batch before, the earlier line wins every time', async () => {
    await twentyEntriesAndMessages(0);
    // Batches of two: [m-000, m-001], then [m-001 again, m-002], [m-002 again, m-003], …: each batch's claim first
    // waits on an id the batch before claimed, then takes the id the batch after it repeats.
    const id = (i: number) => `m-${String(i).padStart(3, '0')}`;
    const sent = (i: number) => message(id(i), `en-${i % 20}`, 's1', 'sent', '2026-11-01T09:00:01Z');
    const lines: ContractLine[] = [sent(0), sent(1)];
    for (let i = 2; i <= 1000; i++) lines.push(message(id(i - 1), `en-${i % 20}`, 's1', 'failed', '2026-11-01T09:00:02Z'), sent(i));
    const summary = await run(lines, { batchSize: 2 });
    expect(summary).toMatchObject({ status: 'completed', accepted: 1001, duplicates: 999, rejected: 0 });
    expect(await step('s1')).toMatchObject({ sent: 1001, failed: 0 });
  });

  it('two imports at once with the same event_ids in opposite orders store each event once, and neither fails', async () => {
    const messages = await twentyEntriesAndMessages(20000);
    // One batch each, claimed at the same time (imports claim before they take the import lock): claims in line order
    // would meet in the middle, each waiting on an id the other holds, and the server would fail one of them. Read
    // from files, so that the two imports parse side by side and send their claims together.
    const [forward, backward] = await withFiles([messages, [...messages].reverse()], (files) =>
      Promise.all(files.map((file) => importEvents(db, readLines(file), { source: file }))),
    );
    expect(forward!.status).toBe('completed');
    expect(backward!.status).toBe('completed');
    expect(forward!.accepted + backward!.accepted).toBe(20000);
    expect(forward!.duplicates + backward!.duplicates).toBe(20000);
    expect(await step('s1')).toMatchObject({ sent: 20000 });
  });

  it('a strict and a plain import of the same events at once both finish, and store each event once', async () => {
    const messages = await twentyEntriesAndMessages(3000);
    // The strict import is one transaction that holds the import lock from its start to its commit; the plain one
    // claims each batch's ids ahead of that lock. Started once the plain import has stored a few batches, the strict
    // one takes the lock between two of them, while the plain import's next batches hold claimed ids: without the
    // gate the strict import then waits on those ids while they wait for its lock (a deadlock the server breaks by
    // failing one import, or, where one of the waits is in Node, a hang).
    const [strict, plain] = await withFiles([messages], async ([file]) => {
      let plainIsUnderWay!: () => void;
      const underWay = new Promise<void>((resolve) => (plainIsUnderWay = resolve));
      const plainImport = importEvents(db, readLines(file!), {
        source: file!,
        batchSize: 100,
        onProgress: (p) => p.accepted >= 300 && plainIsUnderWay(),
      });
      await Promise.race([underWay, plainImport]);
      return [await importEvents(db, readLines(file!), { source: file!, strict: true, batchSize: 100 }), await plainImport];
    });
    expect(strict.status).toBe('completed');
    expect(plain.status).toBe('completed');
    expect(strict.accepted + plain.accepted).toBe(3000);
    expect(strict.duplicates + plain.duplicates).toBe(3000);
    expect(await step('s1')).toMatchObject({ sent: 3000 });
  }, 60_000);

  it('a rejected or duplicate line leaves no user behind', async () => {
    const summary = await run([
      journeyDef({ reentry: false }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      { ...entry('en-1', 'u-rejected', '2026-11-01T10:00:00Z'), event_id: 'other-id' }, // entry_id used again
      { ...entry('en-2', 'u-duplicate', '2026-11-01T10:00:00Z'), event_id: 'welcome-en-1-en' }, // event_id used again
      { ...conversion('welcome-en-1-en', 'u-duplicate-too', '2026-11-01T11:00:00Z') },
    ]);
    expect(summary).toMatchObject({ accepted: 2, duplicates: 2, rejected: 1 });
    const users = await queryRows<{ external_id: string }>(db, sql`select external_id from users order by external_id`);
    expect(users.map((u) => u.external_id)).toEqual(['u-1']);
  });

  it('re-importing the worked example changes no metric', async () => {
    const lines = workedExampleLines();
    await run(lines);
    const before = [await report(), await report(WELCOME, day('2026-11-01'))];
    const again = await run(lines);
    // 52 lines: the journey line counts as accepted, the 51 events are duplicates
    expect(again).toMatchObject({ status: 'completed', lines: 52, accepted: 1, duplicates: 51, rejected: 0 });
    expect([await report(), await report(WELCOME, day('2026-11-01'))]).toEqual(before);
  });
});

describe('references: journey, step and entry must exist', () => {
  it('a line naming an unknown journey is rejected, a conversion needs no journey', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z', 'onboarding'),
      stepEntry('en-1', 's1', '2026-11-01T09:00:01Z', 'onboarding'),
      conversion('cv-1', 'u-1', '2026-11-01T10:00:00Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 2, rejected: 2 });
    expect(byLine(summary.rejections)).toEqual([
      { line: 2, reason: expect.stringMatching(/unknown journey "onboarding"/) },
      { line: 3, reason: expect.stringMatching(/unknown journey "onboarding"/) },
    ]);
  });

  it('a step_entry, message or step_outcome naming an unknown step is rejected', async () => {
    const summary = await run([
      journeyDef(),
      journeyDef({ journey_id: 'onboarding', steps: [{ step_id: 'o1', name: 'Hello', kind: 'custom', next: [] }] }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      stepEntry('en-1', 's9', '2026-11-01T09:00:01Z'),
      message('m-1', 'en-1', 's9', 'sent', '2026-11-01T09:00:02Z'),
      outcome('o-1', 'en-1', 's9', 'webhook_ok', '2026-11-01T09:00:03Z'),
      stepEntry('en-1', 'o1', '2026-11-01T09:00:04Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 3, rejected: 4 });
    expect(byLine(summary.rejections)).toEqual([
      { line: 4, reason: expect.stringMatching(/step "s9".*journey "welcome"/) },
      { line: 5, reason: expect.stringMatching(/step "s9"/) },
      { line: 6, reason: expect.stringMatching(/step "s9"/) },
      // o1 is a step of another journey
      { line: 7, reason: expect.stringMatching(/step "o1".*journey "welcome"/) },
    ]);
  });

  it('an entry_id neither stored nor in the import is rejected for every event bound to an entry', async () => {
    const summary = await run([
      journeyDef(),
      journeyDef({ journey_id: 'onboarding' }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z', 'onboarding'),
      stepEntry('ghost', 's1', '2026-11-01T09:00:01Z'),
      message('m-1', 'ghost', 's1', 'sent', '2026-11-01T09:00:02Z'),
      outcome('o-1', 'ghost', 's1', 'webhook_ok', '2026-11-01T09:00:03Z'),
      exit('ghost', '2026-11-01T12:00:00Z'),
      // en-1 exists, but in another journey: entry_id is unique within a journey only
      stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 3, rejected: 5 });
    expect(byLine(summary.rejections)).toEqual([
      { line: 4, reason: expect.stringMatching(/entry_id "ghost"/) },
      { line: 5, reason: expect.stringMatching(/entry_id "ghost"/) },
      { line: 6, reason: expect.stringMatching(/entry_id "ghost"/) },
      { line: 7, reason: expect.stringMatching(/entry_id "ghost"/) },
      { line: 8, reason: expect.stringMatching(/entry_id "en-1" in journey "welcome"/) },
    ]);
    expect(await overview()).toMatchObject({ total_entries: 0, messages_sent: 0, total_exits: 0 });
  });

  it('events of an entry stored by an earlier import are accepted', async () => {
    await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z')]);
    const summary = await run([
      stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
      message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:02Z'),
      outcome('o-1', 'en-1', 's1', 'ok', '2026-11-01T09:00:03Z'),
      exit('en-1', '2026-11-01T12:00:00Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 4, rejected: 0 });
    // exited after reaching s1, no conversion: a drop-off at s1
    expect(await overview()).toMatchObject({ messages_sent: 1, total_exits: 1, exits_before_first_step: 0 });
    expect(await step('s1')).toMatchObject({ entry_count: 1, sent: 1, outcomes: { ok: 1 }, exits: 1 });
  });
});

describe('within one import, lines may come in any order', () => {
  it('step_entry, message and exit before their journey_entry are accepted', async () => {
    const summary = await run(
      [
        journeyDef(),
        exit('en-1', '2026-11-01T12:00:00Z'),
        message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:02Z', 'iOS'),
        stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
        entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
        conversion('cv-1', 'u-1', '2026-11-01T18:00:00Z'),
      ],
      { batchSize: 2 },
    );
    expect(summary).toMatchObject({ accepted: 6, duplicates: 0, rejected: 0 });
    // exit 12:00, conversion 18:00 within 24 h: converted, so not an exit
    expect(await overview()).toMatchObject({
      total_entries: 1,
      messages_sent: 1,
      converted_users: 1,
      conversion_events: 1,
      total_exits: 0,
    });
    expect(await step('s1')).toMatchObject({ entry_count: 1, sent: 1, platforms: { ios: { sent: 1, failed: 0, clicked: 0 } } });
  });

  it('each line is counted once in the summary, also lines that waited for a later line', async () => {
    const summary = await run([
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
      journeyDef(),
    ]);
    // 3 lines: 3 accepted
    expect(summary).toMatchObject({ lines: 3, accepted: 3, duplicates: 0, rejected: 0 });
  });

  const twoUsers: ContractLine[] = [
    journeyDef(),
    entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
    stepEntry('en-1', 's1', '2026-11-01T09:01:00Z'),
    message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:01:01Z', 'android'),
    stepEntry('en-1', 's2', '2026-11-01T10:00:00Z'),
    exit('en-1', '2026-11-01T12:00:00Z'),
    entry('en-2', 'u-2', '2026-11-01T09:30:00Z'),
    stepEntry('en-2', 's1', '2026-11-01T09:31:00Z'),
    message('m-2', 'en-2', 's1', 'failed', '2026-11-01T09:31:01Z', 'ios'),
    exit('en-2', '2026-11-01T11:00:00Z'),
    conversion('cv-1', 'u-1', '2026-11-01T13:00:00Z'),
  ];
  it.each([
    { order: 'in order', lines: twoUsers, batchSize: 1000 },
    { order: 'reversed, journey line last', lines: [...twoUsers].reverse(), batchSize: 1000 },
    { order: 'reversed, journey line last', lines: [...twoUsers].reverse(), batchSize: 1 },
    { order: 'reversed, journey line last', lines: [...twoUsers].reverse(), batchSize: 3 },
  ])('$order (batch size $batchSize) gives the same report', async ({ lines, batchSize }) => {
    const summary = await run(lines, { batchSize });
    expect(summary).toMatchObject({ accepted: 11, rejected: 0 });
    expect(await overview()).toEqual({
      messages_sent: 1, // m-1
      total_entries: 2,
      entry_users: 2,
      converted_users: 1, // u-1: exit 12:00, conversion 13:00
      conversion_events: 1,
      conversion_rate: 50, // 1 of 2 users
      total_exits: 1, // en-2 (en-1 converted)
      exits_before_first_step: 0,
    });
    expect(await step('s1')).toMatchObject({
      entry_count: 2,
      sent: 1,
      failed: 1,
      platforms: { android: { sent: 1, failed: 0, clicked: 0 }, ios: { sent: 0, failed: 1, clicked: 0 } },
      exits: 1, // en-2 dropped off after s1
    });
    expect(await step('s2')).toMatchObject({ entry_count: 1, exits: 0 });
  });
});

describe('entries', () => {
  it('an entry_id used again in the same journey is rejected, in one import and across imports', async () => {
    const first = await run([
      journeyDef(),
      journeyDef({ journey_id: 'onboarding' }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      { ...entry('en-1', 'u-2', '2026-11-01T10:00:00Z'), event_id: 'other-en-1' },
      // the same entry_id in another journey is another entry
      entry('en-1', 'u-2', '2026-11-01T10:00:00Z', 'onboarding'),
    ]);
    expect(first).toMatchObject({ accepted: 4, rejected: 1 });
    expect(first.rejections).toEqual([{ line: 4, reason: expect.stringMatching(/entry_id "en-1" already exists in journey "welcome"/) }]);
    const second = await run([{ ...entry('en-1', 'u-3', '2026-11-02T09:00:00Z'), event_id: 'third-en-1' }]);
    expect(second.rejections).toEqual([{ line: 1, reason: expect.stringMatching(/entry_id "en-1" already exists/) }]);
    // only u-1's entry is in welcome
    expect(await overview()).toMatchObject({ total_entries: 1, entry_users: 1 });
  });

  it('with re-entry allowed, a user may enter several times', async () => {
    const summary = await run([
      journeyDef({ reentry: true }),
      entry('en-a', 'u-1', '2026-11-01T09:00:00Z'),
      stepEntry('en-a', 's1', '2026-11-01T09:00:01Z'),
      exit('en-a', '2026-11-01T10:00:00Z'),
      entry('en-b', 'u-1', '2026-11-02T09:00:00Z'),
      stepEntry('en-b', 's1', '2026-11-02T09:00:01Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 6, rejected: 0 });
    // 2 entries of 1 user; the step entries belong to the entry's user
    expect(await overview()).toMatchObject({ total_entries: 2, entry_users: 1 });
    expect(await step('s1')).toMatchObject({ entry_count: 2, entry_users: 1 });
  });

  describe('without re-entry', () => {
    it('the earlier line wins within one import, even when it has the later timestamp', async () => {
      const summary = await run([
        journeyDef({ reentry: false }),
        entry('en-b', 'u-1', '2026-11-02T09:00:00Z'),
        entry('en-a', 'u-1', '2026-11-01T09:00:00Z'),
        stepEntry('en-a', 's1', '2026-11-01T09:00:01Z'),
        entry('en-c', 'u-2', '2026-11-01T09:00:00Z'),
      ]);
      expect(summary).toMatchObject({ accepted: 3, rejected: 2 });
      expect(byLine(summary.rejections)).toEqual([
        { line: 3, reason: expect.stringMatching(/re-entry not allowed/) },
        // en-a was never stored, so its step entry names an unknown entry
        { line: 4, reason: expect.stringMatching(/entry_id "en-a"/) },
      ]);
      // en-b (2 Nov) and u-2's en-c (1 Nov) are stored
      expect(await overview(day('2026-11-02'))).toMatchObject({ total_entries: 1, entry_users: 1 });
      expect(await overview(day('2026-11-01'))).toMatchObject({ total_entries: 1, entry_users: 1 });
      expect(await step('s1')).toMatchObject({ entry_count: 0 });
    });

    it('the earlier line wins even when events of its entry come before it', async () => {
      const summary = await run([
        journeyDef({ reentry: false }),
        stepEntry('en-a', 's1', '2026-11-01T09:00:01Z'),
        entry('en-a', 'u-1', '2026-11-01T09:00:00Z'),
        entry('en-b', 'u-1', '2026-11-02T09:00:00Z'),
      ]);
      // line 3 (en-a) is earlier than line 4 (en-b): en-a and its step entry are stored, en-b is the re-entry
      expect(summary.rejections).toEqual([{ line: 4, reason: expect.stringMatching(/re-entry not allowed/) }]);
      expect(summary).toMatchObject({ accepted: 3, rejected: 1 });
      expect(await overview(day('2026-11-01'))).toMatchObject({ total_entries: 1 });
      expect(await step('s1')).toMatchObject({ entry_count: 1 });
    });

    it('the earlier line wins when the journey is defined after its entries', async () => {
      const summary = await run([
        entry('en-a', 'u-1', '2026-11-01T09:00:00Z'),
        entry('en-b', 'u-1', '2026-11-02T09:00:00Z'),
        journeyDef({ reentry: false }),
      ]);
      expect(summary.rejections).toEqual([{ line: 2, reason: expect.stringMatching(/re-entry not allowed/) }]);
      expect(await overview(day('2026-11-01'))).toMatchObject({ total_entries: 1 });
      expect(await overview(day('2026-11-02'))).toMatchObject({ total_entries: 0 });
    });

    it('a stored entry wins over an entry in a later import', async () => {
      await run([journeyDef({ reentry: false }), entry('en-a', 'u-1', '2026-11-02T09:00:00Z')]);
      const summary = await run([entry('en-b', 'u-1', '2026-11-01T09:00:00Z'), entry('en-c', 'u-2', '2026-11-01T09:00:00Z')]);
      expect(summary.rejections).toEqual([{ line: 1, reason: expect.stringMatching(/re-entry not allowed.*"u-1"/) }]);
      // u-1's stored en-a (2 Nov) stays; u-2 enters on 1 Nov
      expect(await overview()).toMatchObject({ total_entries: 2, entry_users: 2 });
      expect(await overview(day('2026-11-02'))).toMatchObject({ total_entries: 1 });
    });

    it('applies per journey: the same user may enter another journey', async () => {
      const summary = await run([
        journeyDef({ reentry: false }),
        journeyDef({ journey_id: 'onboarding', reentry: false }),
        entry('en-a', 'u-1', '2026-11-01T09:00:00Z'),
        entry('en-a', 'u-1', '2026-11-01T09:00:00Z', 'onboarding'),
      ]);
      expect(summary).toMatchObject({ accepted: 4, rejected: 0 });
    });
  });
});

describe('exits', () => {
  it('a second exit is rejected ("entry already exited"), in one import and across imports; the first stays', async () => {
    const first = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      exit('en-1', '2026-11-01T12:00:00Z', 'x-1'),
      exit('en-1', '2026-11-01T13:00:00Z', 'x-2'),
    ]);
    expect(first.rejections).toEqual([{ line: 4, reason: expect.stringMatching(/entry already exited/) }]);
    const second = await run([exit('en-1', '2026-11-01T14:00:00Z', 'x-3')]);
    expect(second.rejections).toEqual([{ line: 1, reason: expect.stringMatching(/entry already exited/) }]);
    // the stored exit is 12:00, so the window ends 2 Nov 12:00: a conversion at 12:30 is too late
    await run([conversion('cv-1', 'u-1', '2026-11-02T12:30:00Z')]);
    expect(await overview()).toMatchObject({ conversion_events: 0, converted_users: 0, total_exits: 1 });
  });

  it.each([1000, 1])('the earlier exit line wins even when both come before the entry (batch size %i)', async (batchSize) => {
    const summary = await run(
      [
        journeyDef(),
        exit('en-1', '2026-11-01T12:00:00Z', 'x-first-line'),
        exit('en-1', '2026-11-01T10:00:00Z', 'x-second-line'),
        entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
        conversion('cv-1', 'u-1', '2026-11-02T11:00:00Z'),
      ],
      { batchSize },
    );
    expect(summary.rejections).toEqual([{ line: 3, reason: expect.stringMatching(/entry already exited/) }]);
    // exit 12:00 (line 2) wins: window until 2 Nov 12:00 holds the 11:00 conversion (with the 10:00 exit it would not)
    expect(await overview()).toMatchObject({ conversion_events: 1, converted_users: 1, total_exits: 0 });
  });

  it('the earlier exit line wins when the journey is defined last', async () => {
    const summary = await run([
      exit('en-1', '2026-11-01T10:00:00Z', 'x-first-line'),
      exit('en-1', '2026-11-01T12:00:00Z', 'x-second-line'),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      conversion('cv-1', 'u-1', '2026-11-02T11:00:00Z'),
      journeyDef(),
    ]);
    expect(summary.rejections).toEqual([{ line: 2, reason: expect.stringMatching(/entry already exited/) }]);
    // exit 10:00 wins: window until 2 Nov 10:00 misses the 11:00 conversion
    expect(await overview()).toMatchObject({ conversion_events: 0, total_exits: 1 });
  });

  it('an exit earlier than its entry is rejected; an exit at the entry time is accepted', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      exit('en-1', '2026-11-01T08:59:59.999Z'),
      entry('en-2', 'u-2', '2026-11-01T09:00:00Z'),
      exit('en-2', '2026-11-01T09:00:00Z'),
      entry('en-3', 'u-3', '2026-11-01T09:00:00+03:00'),
      // 07:00+01:00 is 06:00Z, the entry is 06:00Z: equal, accepted
      exit('en-3', '2026-11-01T07:00:00+01:00'),
    ]);
    expect(summary.rejections).toEqual([{ line: 3, reason: expect.stringMatching(/earlier than/) }]);
    // en-2 and en-3 exited at their entry time, before any step; en-1 is still in the journey
    expect(await overview()).toMatchObject({ total_entries: 3, total_exits: 2, exits_before_first_step: 2 });
  });

  it('an exit earlier than its entry is rejected when the exit line comes first', async () => {
    const summary = await run([
      journeyDef(),
      exit('en-1', '2026-11-01T08:59:59.999Z'),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
    ]);
    expect(summary.rejections).toEqual([{ line: 2, reason: expect.stringMatching(/earlier than/) }]);
    expect(await overview()).toMatchObject({ total_entries: 1, total_exits: 0 });
  });
});

describe('journey redefinition', () => {
  it('a later journey line replaces the name, settings and steps', async () => {
    await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z'), stepEntry('en-1', 's1', '2026-11-01T09:00:01Z')]);
    const summary = await run([
      journeyDef({
        name: 'Welcome, second edition',
        reentry: false,
        steps: [
          { step_id: 's3', name: 'Final SMS', kind: 'sms', next: [] },
          { step_id: 's1', name: 'Welcome push', kind: 'push', next: ['s4'] },
          { step_id: 's4', name: 'In-app nudge', kind: 'in_app', next: ['s3'] },
          { step_id: 's2', name: 'Welcome email', kind: 'email', next: [] },
        ],
      }),
      // re-entry is no longer allowed, and u-1 has an entry
      entry('en-2', 'u-1', '2026-11-02T09:00:00Z'),
    ]);
    expect(summary).toMatchObject({ accepted: 1, rejected: 1 });
    expect(summary.rejections[0]?.reason).toMatch(/re-entry not allowed/);
    const after = await report();
    expect(after.journey).toEqual({ journey_id: WELCOME, name: 'Welcome, second edition' });
    expect(after.steps.map((s) => [s.step_id, s.name, s.kind, s.entry_count])).toEqual([
      ['s3', 'Final SMS', 'sms', 0],
      ['s1', 'Welcome push', 'push', 1],
      ['s4', 'In-app nudge', 'in_app', 0],
      ['s2', 'Welcome email', 'email', 0],
    ]);
    expect(await loadJourney(db, WELCOME)).toMatchObject({ reentry: false, steps: [{ next: [] }, { next: ['s4'] }, { next: ['s3'] }, { next: [] }] });
  });

  it.each([
    { what: 'a step entry', event: stepEntry('en-1', 's3', '2026-11-01T10:00:00Z') },
    { what: 'a message', event: message('m-1', 'en-1', 's3', 'failed', '2026-11-01T10:00:00Z') },
    { what: 'a step outcome', event: outcome('o-1', 'en-1', 's3', 'ok', '2026-11-01T10:00:00Z') },
  ])('removing a step that has $what stored is rejected, and the definition stays', async ({ event }) => {
    await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z'), event]);
    const without = journeyDef({ name: 'Shorter', steps: journeyDef().steps.slice(0, 2).map((s) => ({ ...s, next: [] })) });
    const summary = await run([without]);
    expect(summary).toMatchObject({ accepted: 0, rejected: 1 });
    expect(summary.rejections).toEqual([{ line: 1, reason: expect.stringMatching(/"s3".*stored events/) }]);
    const after = await report();
    expect(after.journey.name).toBe('Welcome series');
    expect(after.steps.map((s) => s.step_id)).toEqual(['s1', 's2', 's3']);
  });

  it('removing a used step is rejected when its events come earlier in the same import', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      stepEntry('en-1', 's3', '2026-11-01T10:00:00Z'),
      journeyDef({ steps: journeyDef().steps.slice(0, 2).map((s) => ({ ...s, next: [] })) }),
    ]);
    expect(summary.rejections).toEqual([{ line: 4, reason: expect.stringMatching(/"s3".*stored events/) }]);
    expect((await step('s3')).entry_count).toBe(1);
  });

  describe('by another import while an import runs', () => {
    /** Imports `first` and then `then` in one import (batches of two lines), running `meanwhile` between the two. */
    async function importAround(first: ContractLine[], meanwhile: () => Promise<unknown>, then: ContractLine[]): Promise<ImportSummary> {
      async function* lines() {
        for (const l of first) yield JSON.stringify(l);
        // The batch of `first` is being written (a full batch is flushed as soon as it is read).
        await meanwhile();
        for (const l of then) yield JSON.stringify(l);
      }
      return importEvents(db, lines(), { source: 'test', batchSize: 2 });
    }

    it('a step the other import added is a step for the running import from its next batch', async () => {
      await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z')]);
      const withS4 = journeyDef({ steps: [...journeyDef().steps, { step_id: 's4', name: 'Follow-up push', kind: 'push', next: [] }] });
      const summary = await importAround(
        [stepEntry('en-1', 's1', '2026-11-01T09:01:00Z'), stepEntry('en-1', 's2', '2026-11-01T09:02:00Z')],
        () => run([withS4]),
        [stepEntry('en-1', 's4', '2026-11-01T09:04:00Z')],
      );
      expect(summary).toMatchObject({ status: 'completed', accepted: 3, rejected: 0 });
      expect((await step('s4')).entry_count).toBe(1);
    });

    it('a step the other import removed takes no more events in the running import', async () => {
      await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z')]);
      const withoutS3 = journeyDef({ steps: journeyDef().steps.slice(0, 2).map((s) => ({ ...s, next: [] })) });
      const summary = await importAround(
        [stepEntry('en-1', 's1', '2026-11-01T09:01:00Z'), stepEntry('en-1', 's2', '2026-11-01T09:02:00Z')],
        async () => expect(await run([withoutS3])).toMatchObject({ accepted: 1, rejected: 0 }),
        [stepEntry('en-1', 's3', '2026-11-01T09:03:00Z')],
      );
      expect(summary).toMatchObject({ status: 'completed', accepted: 2, rejected: 1 });
      expect(summary.rejections).toEqual([{ line: 3, reason: expect.stringMatching(/step "s3" is not a step of journey "welcome"/) }]);
      const stored = await queryRows<{ n: unknown }>(db, sql`select count(*) as n from step_entries where step_id = 's3'`);
      expect(toCount(stored[0]?.n)).toBe(0);
    });
  });

  it('removing an unused step works', async () => {
    await run([journeyDef(), entry('en-1', 'u-1', '2026-11-01T09:00:00Z'), stepEntry('en-1', 's1', '2026-11-01T09:00:01Z')]);
    const summary = await run([journeyDef({ steps: journeyDef().steps.slice(0, 2).map((s) => ({ ...s, next: [] })) })]);
    expect(summary).toMatchObject({ accepted: 1, rejected: 0 });
    const after = await report();
    expect(after.steps.map((s) => [s.step_id, s.entry_count])).toEqual([
      ['s1', 1],
      ['s2', 0],
    ]);
  });

  it('changing conversion_event re-attributes the stored conversions', async () => {
    await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      exit('en-1', '2026-11-01T12:00:00Z'),
      entry('en-2', 'u-2', '2026-11-01T09:00:00Z'),
      conversion('cv-p', 'u-1', '2026-11-01T13:00:00Z', 'purchase'),
      conversion('cv-s1', 'u-1', '2026-11-01T14:00:00Z', 'signup'),
      conversion('cv-s2', 'u-1', '2026-11-01T15:00:00Z', 'signup'),
      conversion('cv-s3', 'u-2', '2026-11-01T15:00:00Z', 'signup'),
    ]);
    // purchase: cv-p only
    expect(await overview()).toMatchObject({ converted_users: 1, conversion_events: 1, conversion_rate: 50, total_exits: 0 });

    await run([journeyDef({ conversion_event: 'signup' })]);
    // signup: cv-s1 + cv-s2 (u-1) and cv-s3 (u-2, still in the journey)
    expect(await overview()).toMatchObject({ converted_users: 2, conversion_events: 3, conversion_rate: 100, total_exits: 0 });
    // the same for a cohort of whole days and for one of minutes around the 09:00 entries
    expect(await overview(day('2026-11-01'))).toMatchObject({ converted_users: 2, conversion_events: 3 });
    const aroundNine = { from: new Date('2026-11-01T08:59:00Z'), to: new Date('2026-11-01T09:00:00.001Z') };
    expect(await overview(aroundNine)).toMatchObject({ converted_users: 2, conversion_events: 3, total_exits: 0 });

    await run([journeyDef({ conversion_event: null })]);
    // no conversion event: conversion metrics are null, every exited entry is an exit
    expect(await overview()).toMatchObject({ converted_users: null, conversion_events: null, conversion_rate: null, total_exits: 1 });
    expect(await overview(aroundNine)).toMatchObject({ converted_users: null, total_exits: 1 });

    await run([journeyDef({ conversion_event: 'purchase' })]);
    expect(await overview()).toMatchObject({ converted_users: 1, conversion_events: 1, total_exits: 0 });
  });

  it.each([
    { hours: 24, counted: 1 }, // window until 2 Nov 12:00
    { hours: 23, counted: 1 }, // window until 2 Nov 11:00, both ends inclusive
    { hours: 22.5, counted: 0 }, // window until 2 Nov 10:30
    { hours: 12, counted: 0 },
    { hours: 0, counted: 0 }, // only while in the journey
  ])('changing the attribution window to $hours h re-attributes (counted: $counted)', async ({ hours, counted }) => {
    await run([
      journeyDef({ attribution_window_hours: 24 }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      exit('en-1', '2026-11-01T12:00:00Z'),
      conversion('cv-1', 'u-1', '2026-11-02T11:00:00Z'),
    ]);
    expect(await overview()).toMatchObject({ conversion_events: 1, total_exits: 0 });
    await run([journeyDef({ attribution_window_hours: hours })]);
    expect(await overview()).toMatchObject({
      conversion_events: counted,
      converted_users: counted,
      total_exits: 1 - counted,
    });
  });
});

describe('rejected lines', () => {
  it('are passed to onRejected unchanged, with their line numbers, and the import goes on', async () => {
    const lines = [
      JSON.stringify(journeyDef()),
      '{"type":"journey_entry","event_id":"cut-off',
      '',
      '  {"type": "journey_entry", "event_id": "en-x", "journey_id": "nope", "entry_id": "x", "external_id": "u-1", "at": "2026-11-01T09:00:00Z"}  ',
      JSON.stringify(entry('en-1', 'ü-1 ✓', '2026-11-01T09:00:00Z')),
      '[1,2,3]',
      '{"at":"2026-11-01T09:00:01Z","step_id":"s9","entry_id":"en-1","journey_id":"welcome","event_id":"se-9","type":"step_entry"}',
      '{"type":"message","event_id":"m-\\u00e9","journey_id":"welcome","entry_id":"ghost","step_id":"s1","status":"failed","reason":"échec ✗","at":"2026-11-01T09:00:02Z"}',
      '{"type":"conversion","event_id":"cv-1","external_id":"ü-1 ✓","event":"purchase","at":"2026-11-01T10:00:00"}',
    ];
    const received: Array<{ raw: string; rejection: Rejection }> = [];
    const summary = await importEvents(db, each(lines), {
      source: 'test',
      batchSize: 2,
      onRejected: (raw, rejection) => {
        received.push({ raw, rejection });
      },
    });
    const rejectedLineNumbers = [2, 4, 6, 7, 8, 9];
    expect(received.map((r) => r.rejection.line).sort((a, b) => a - b)).toEqual(rejectedLineNumbers);
    for (const { raw, rejection } of received) expect(raw).toBe(lines[rejection.line - 1]);
    expect(byLine(summary.rejections)).toEqual(byLine(received.map((r) => r.rejection)));
    // the journey and ü-1's entry are accepted; the blank line is no event
    expect(summary).toMatchObject({ accepted: 2, rejected: 6 });
    expect(byLine(summary.rejections).map((r) => r.reason)).toEqual([
      expect.stringMatching(/JSON/),
      expect.stringMatching(/unknown journey "nope"/),
      expect.stringMatching(/object/),
      expect.stringMatching(/step "s9"/),
      expect.stringMatching(/entry_id "ghost"/),
      expect.stringMatching(/"at".*time zone/),
    ]);
    expect(await overview()).toMatchObject({ total_entries: 1, entry_users: 1 });
  });

  it('a timestamp whose UTC instant has no four-digit year is rejected as a line, not failing the batch', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      conversion('cv-0', 'u-1', '0000-06-01T00:00:00Z'),
      entry('en-2', 'u-2', '9999-12-31T23:30:00-01:00'),
      entry('en-3', 'u-3', '9999-12-31T23:59:59.999Z'),
    ]);
    expect(summary).toMatchObject({ status: 'completed', accepted: 3, rejected: 2 });
    expect(byLine(summary.rejections)).toEqual([
      { line: 3, reason: expect.stringMatching(/"at".*years 0001 to 9999/) },
      { line: 4, reason: expect.stringMatching(/"at".*years 0001 to 9999/) },
    ]);
    expect(await overview()).toMatchObject({ total_entries: 2, entry_users: 2 });
  });
  it('a line whose text no database column holds (U+0000, half a surrogate pair) is rejected, not failing the batch', async () => {
    const summary = await run([
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      JSON.stringify(entry('en-2', 'u-\u0000', '2026-11-01T09:00:00Z')),
      JSON.stringify(entry('en-3', 'u-\ud800', '2026-11-01T09:00:00Z')),
      JSON.stringify(entry('en-4', 'u-\udfff', '2026-11-01T09:00:00Z')),
      JSON.stringify(conversion('cv-\u0000', 'u-1', '2026-11-01T10:00:00Z')),
      entry('en-5', 'u-😀', '2026-11-01T09:00:00Z'),
    ]);
    expect(summary).toMatchObject({ status: 'completed', accepted: 3, rejected: 4 });
    expect(byLine(summary.rejections)).toEqual([
      { line: 3, reason: expect.stringMatching(/"external_id".*U\+0000/) },
      { line: 4, reason: expect.stringMatching(/"external_id".*surrogate/) },
      { line: 5, reason: expect.stringMatching(/"external_id".*surrogate/) },
      { line: 6, reason: expect.stringMatching(/"event_id".*U\+0000/) },
    ]);
    // two users, not one: u-\ud800 and u-\udfff were not both stored as u-\ufffd
    expect(await overview()).toMatchObject({ total_entries: 2, entry_users: 2 });
  });
});

describe('bytes that are not UTF-8, and line ends', () => {
  it('a line that is not UTF-8 is rejected saying where, passed on as its bytes, and no two ids become one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'utf8-'));
    try {
      const file = path.join(dir, 'events.ndjson');
      const line = (o: ContractLine) => Buffer.from(`${JSON.stringify(o)}\n`);
      // u-\xff and u-\xfe: read with U+FFFD in place of the bad byte, they were stored as one user "u-\ufffd"
      const raw1 = Buffer.concat([Buffer.from('{"type":"journey_entry","event_id":"x1","journey_id":"welcome","entry_id":"en-x1","external_id":"u-'), Buffer.from([0xff]), Buffer.from('","at":"2026-11-01T09:00:00Z"}')]);
      const raw2 = Buffer.concat([Buffer.from('{"type":"journey_entry","event_id":"x2","journey_id":"welcome","entry_id":"en-x2","external_id":"u-'), Buffer.from([0xfe]), Buffer.from('","at":"2026-11-01T09:00:00Z"}')]);
      writeFileSync(file, Buffer.concat([line(journeyDef()), line(entry('en-1', 'u-1', '2026-11-01T09:00:00Z')), raw1, Buffer.from('\n'), raw2, Buffer.from('\r\n'), line(entry('en-2', 'u-2', '2026-11-01T09:00:00Z'))]));
      const rejected: Array<{ raw: string; bytes?: Buffer }> = [];
      const summary = await importEvents(db, readLines(file), { source: file, onRejected: (raw, _r, bytes) => void rejected.push({ raw, bytes }) });
      expect(summary).toMatchObject({ status: 'completed', accepted: 3, rejected: 2, duplicates: 0 });
      expect(byLine(summary.rejections)).toEqual([
        { line: 3, reason: 'not valid UTF-8 (byte 0xFF at byte 100 of the line): save the file as UTF-8' },
        { line: 4, reason: 'not valid UTF-8 (byte 0xFE at byte 100 of the line): save the file as UTF-8' },
      ]);
      expect(rejected.map((r) => r.bytes)).toEqual([raw1, raw2]);
      expect(await overview()).toMatchObject({ total_entries: 2, entry_users: 2 });
      expect(await queryRows(db, sql`select external_id from users order by external_id`)).toEqual([{ external_id: 'u-1' }, { external_id: 'u-2' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a CR inside a line is JSON white space, not a line end; a byte order mark may start any line (files joined with cat)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lines-'));
    try {
      const file = path.join(dir, 'events.ndjson');
      const spaced = JSON.stringify(entry('en-2', 'u-2', '2026-11-01T09:00:00Z')).replace(',', ',\r');
      writeFileSync(file, `\ufeff${JSON.stringify(journeyDef())}\r\n${spaced}\n\ufeff${JSON.stringify(entry('en-3', 'u-3', '2026-11-01T09:00:00Z'))}\nnot json\n`);
      const summary = await importEvents(db, readLines(file), { source: file });
      expect(summary).toMatchObject({ lines: 4, accepted: 3, rejected: 1 });
      expect(summary.rejections).toEqual([{ line: 4, reason: 'not valid JSON (a line is one JSON object, starting with {)' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('text is stored exactly as written', () => {
  it('ids, steps and reasons with tabs, line breaks, backslashes and "\\N" reach every table unchanged', async () => {
    // Step entries and messages reach the database by COPY (text format), the rest as JSON: both must keep every character.
    const odd = ['tab\there', 'line\nbreak', 'cr\rlf\r\n', 'back\\slash', '\\N', '\\\\N', '\\t not a tab', 'quote" and \'', 'comma, semicolon;', 'ü ✓ 😀', ' edge spaces '];
    const steps = odd.map((id, i) => ({ step_id: `s${i}:${id}`, name: `step ${i}`, kind: 'push' as const, next: [] }));
    const lines: ContractLine[] = [journeyDef({ steps })];
    odd.forEach((text, i) => {
      const entryId = `e${i}:${text}`;
      lines.push(
        { ...entry(entryId, `u${i}:${text}`, '2026-11-01T09:00:00.123Z'), event_id: `en${i}:${text}` },
        { ...stepEntry(entryId, steps[i]!.step_id, '2026-11-01T09:00:01.456Z'), event_id: `se${i}:${text}` },
        { ...message(`m${i}:${text}`, entryId, steps[i]!.step_id, 'failed', '2026-11-01T09:00:02.789Z', text), reason: text },
        { ...exit(entryId, '2026-11-02T09:00:00Z', `ex${i}:${text}`), reason: text },
      );
    });
    const summary = await run(lines);
    expect(summary).toMatchObject({ accepted: 1 + odd.length * 4, rejected: 0 });
    const stored = await queryRows<{ entry_id: string; external_id: string; step_id: string; se_event: string; m_event: string; reason: string; platform: string; exit_reason: string; at: string }>(
      db,
      sql`select e.entry_id, u.external_id, s.step_id, s.event_id as se_event, m.event_id as m_event, m.reason, m.platform,
                 e.exit_reason, to_char(s.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
          from entries e join users u on u.id = e.user_id
          join step_entries s on s.entry_id = e.entry_id join messages m on m.entry_id = e.entry_id
          order by e.entry_id collate "C"`,
    );
    expect(stored).toEqual(
      [...odd.entries()]
        .map(([i, text]) => ({
          entry_id: `e${i}:${text}`,
          external_id: `u${i}:${text}`,
          step_id: `s${i}:${text}`,
          se_event: `se${i}:${text}`,
          m_event: `m${i}:${text}`,
          reason: text,
          // a platform other than android, ios and web counts as other (EVENTS.md)
          platform: 'other',
          exit_reason: text,
          at: '2026-11-01T09:00:01.456Z',
        }))
        .sort((a, b) => (Buffer.from(a.entry_id) < Buffer.from(b.entry_id) ? -1 : 1)),
    );
  });
});

describe('attribution window', () => {
  it.each([1e12, Number.MAX_VALUE])('a window of %d hours counts every later conversion, also for the naive SQL', async (hours) => {
    const summary = await run([
      journeyDef({ attribution_window_hours: hours }),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      exit('en-1', '2026-11-01T10:00:00Z'),
      conversion('cv-1', 'u-1', '9999-12-31T23:59:59.999Z'),
    ]);
    expect(summary).toMatchObject({ status: 'completed', accepted: 4, rejected: 0 });
    expect(await overview()).toMatchObject({ converted_users: 1, conversion_events: 1, total_exits: 0 });
    const journey = (await loadJourney(db, WELCOME))!;
    expect(await computeNaiveReport(db, journey, ALL_TIME)).toEqual(await report());
  });
});

describe('strict mode', () => {
  const valid: ContractLine[] = [
    journeyDef(),
    entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
    stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
    message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:02Z', 'android'),
    outcome('o-1', 'en-1', 's1', 'ok', '2026-11-01T09:00:03Z'),
    exit('en-1', '2026-11-01T12:00:00Z'),
    conversion('cv-1', 'u-1', '2026-11-01T13:00:00Z'),
  ];

  it.each([
    { bad: 'not JSON', line: '{"type":', at: 3, batchSize: 1000 },
    { bad: 'a timestamp without zone', line: JSON.stringify(conversion('cv-2', 'u-2', '2026-11-01T10:00:00')), at: 8, batchSize: 2 },
    { bad: 'an unknown entry', line: JSON.stringify(stepEntry('ghost', 's1', '2026-11-01T10:00:00Z')), at: 8, batchSize: 2 },
    { bad: 'a second exit', line: JSON.stringify(exit('en-1', '2026-11-01T13:00:00Z', 'x-2')), at: 8, batchSize: 1 },
  ])('one bad line ($bad) writes nothing and the import is refused', async ({ line, at, batchSize }) => {
    const lines: Array<ContractLine | string> = [...valid];
    lines.splice(at - 1, 0, line);
    const summary = await run(lines, { strict: true, batchSize });
    expect(summary).toMatchObject({ status: 'refused', accepted: 0, duplicates: 0, rejected: 1 });
    expect(summary.rejections).toEqual([{ line: at, reason: expect.any(String) }]);
    const counts = await rowCounts(['imports']);
    expect(Object.entries(counts).filter(([, n]) => n > 0)).toEqual([]);
    expect(await loadJourney(db, WELCOME)).toBeNull();
  });

  it('a refused import leaves stored data and metrics as they were', async () => {
    await run(workedExampleLines());
    const countsBefore = await rowCounts(['imports']);
    const reportsBefore = [await report(), await report(WELCOME, day('2026-11-01'))];
    const summary = await run(
      [
        journeyDef({ name: 'Renamed', attribution_window_hours: 0 }),
        entry('new-1', 'u-new', '2026-11-01T09:00:00Z'),
        conversion('cv-new', 'ex9-just-past', '2026-11-01T12:00:00Z'),
        message('m-new', 'x1', 's1', 'sent', '2026-11-01T09:00:03Z'),
        exit('x7', '2026-11-30T00:00:00Z'),
        '{oops',
      ],
      { strict: true, batchSize: 2 },
    );
    expect(summary).toMatchObject({ status: 'refused', accepted: 0, rejected: 1 });
    expect(await rowCounts(['imports'])).toEqual(countsBefore);
    expect([await report(), await report(WELCOME, day('2026-11-01'))]).toEqual(reportsBefore);
  });

  it('stores every row once when its one transaction writes batch after batch', async () => {
    // The stored events, not the rollups: how many rollup rows stand at zero depends on where batches end.
    const events = async () => {
      const counts = await rowCounts();
      return ['users', 'entries', 'step_entries', 'messages', 'step_outcomes', 'conversions', 'event_ids'].map((t) => [t, counts[t]]);
    };
    await run(workedExampleLines());
    const plain = { counts: await events(), report: await report() };
    await db.execute(sql.raw(`truncate ${tables.map((t) => `"${t}"`).join(', ')} restart identity cascade`));
    // batches of 3 lines: step entries and messages in many batches of the one transaction
    const summary = await run(workedExampleLines(), { strict: true, batchSize: 3 });
    expect(summary).toMatchObject({ status: 'completed', rejected: 0 });
    expect(await events()).toEqual(plain.counts);
    expect(await report()).toEqual(plain.report);
  });

  it('an import without bad lines completes; duplicates are not bad lines', async () => {
    const summary = await run(valid, { strict: true, batchSize: 2 });
    expect(summary).toMatchObject({ status: 'completed', accepted: 7, rejected: 0 });
    // exit 12:00, conversion 13:00: converted
    expect(await overview()).toMatchObject({ total_entries: 1, messages_sent: 1, converted_users: 1, total_exits: 0 });
    const again = await run(valid, { strict: true });
    expect(again).toMatchObject({ status: 'completed', accepted: 1, duplicates: 6, rejected: 0 });
  });
});

/** The import records, oldest first: status, counters, and whether finished_at is set. */
async function importRecords() {
  const rows = await queryRows<{ status: string; accepted: unknown; duplicates: unknown; rejected: unknown; finished: boolean }>(
    db,
    sql`select status, accepted, duplicates, rejected, finished_at is not null as finished from imports order by id`,
  );
  return rows.map((r) => ({ ...r, accepted: toCount(r.accepted), duplicates: toCount(r.duplicates), rejected: toCount(r.rejected) }));
}

describe('an import that stops halfway', () => {
  it('keeps whole committed batches only, and importing the file again completes it', async () => {
    const lines: ContractLine[] = [
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:00:01Z'),
      entry('en-2', 'u-2', '2026-11-01T09:00:00Z'),
      message('m-2', 'en-2', 's1', 'sent', '2026-11-01T09:00:01Z'),
      entry('en-3', 'u-3', '2026-11-01T09:00:00Z'),
      message('m-3', 'en-3', 's1', 'sent', '2026-11-01T09:00:01Z'),
    ];
    let progressCalls = 0;
    const stopping = run(lines, {
      batchSize: 2,
      onProgress: () => {
        // 1: the journey line, 2: lines 2–3, 3: lines 4–5 (fails before it commits)
        if (++progressCalls === 3) throw new Error('killed');
      },
    });
    await expect(stopping).rejects.toThrow('killed');
    // the journey and the first batch: en-1 with its message
    expect(await overview()).toMatchObject({ total_entries: 1, messages_sent: 1 });
    // The failed import's record counts what it stored, not the batch that rolled back.
    expect(await importRecords()).toEqual([{ status: 'failed', accepted: 3, duplicates: 0, rejected: 0, finished: true }]);
    const again = await run(lines, { batchSize: 2 });
    expect(again).toMatchObject({ status: 'completed', accepted: 5, duplicates: 2, rejected: 0 });
    expect(await overview()).toMatchObject({ total_entries: 3, messages_sent: 3 });
  });

  it('records, once failed, the lines it stored and every rejection it reported', async () => {
    const lines: Array<ContractLine | string> = [
      journeyDef(),
      entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
      stepEntry('en-1', 's1', '2026-11-01T09:00:01Z'),
      // rejected in a transaction of its own: s1 has a stored step entry
      journeyDef({ steps: journeyDef().steps.slice(1) }),
      'not json',
      entry('en-2', 'u-2', '2026-11-01T09:00:00Z'),
      stepEntry('en-2', 's1', '2026-11-01T09:00:01Z'),
    ];
    const reported: number[] = [];
    let progressCalls = 0;
    const stopping = run(lines, {
      batchSize: 2,
      onRejected: (_raw, rejection) => void reported.push(rejection.line),
      onProgress: () => {
        // 1: the journey, 2: lines 2–3, 3: the rejected journey line, 4: lines 6–7 (fails before it commits)
        if (++progressCalls === 4) throw new Error('killed');
      },
    });
    await expect(stopping).rejects.toThrow('killed');
    expect(reported.sort()).toEqual([4, 5]);
    expect(await importRecords()).toEqual([{ status: 'failed', accepted: 3, duplicates: 0, rejected: 2, finished: true }]);
  });
});

describe('batch boundaries do not matter', () => {
  const messy: Array<ContractLine | string> = [
    stepEntry('en-1', 's1', '2026-11-01T09:01:00Z'), // before its entry and before the journey
    journeyDef({ reentry: false }),
    entry('en-1', 'u-1', '2026-11-01T09:00:00Z'),
    message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:02:00Z', 'Android'),
    message('m-1', 'en-1', 's1', 'sent', '2026-11-01T09:02:00Z', 'Android'), // duplicate
    exit('en-1', '2026-11-01T12:00:00Z'),
    exit('en-1', '2026-11-01T13:00:00Z', 'x-again'), // second exit: rejected
    entry('en-2', 'u-2', '2026-11-01T10:00:00Z'),
    stepEntry('en-2', 's1', '2026-11-01T10:01:00Z'),
    stepEntry('en-2', 's2', '2026-11-01T11:00:00Z'),
    message('m-2', 'en-2', 's2', 'shown', '2026-11-01T11:00:01Z'),
    exit('en-2', '2026-11-01T11:30:00Z'),
    entry('en-3', 'u-1', '2026-11-03T09:00:00Z'), // re-entry: rejected
    conversion('cv-1', 'u-1', '2026-11-02T11:00:00Z'), // valid for en-1 (until 2 Nov 12:00)
    conversion('cv-2', 'u-2', '2026-11-03T09:00:00Z'), // after en-2's window (until 2 Nov 11:30)
    stepEntry('ghost', 's1', '2026-11-01T09:00:00Z'), // unknown entry: rejected
    conversion('cv-3', 'u-3', '2026-11-01T09:00:00Z'), // a user who never entered
  ];

  // The same lines with the early step entry moved behind its entry: rejected lines keep their numbers.
  const [earlyStepEntry, journeyLine, firstEntry, ...rest] = messy;
  const orderly = [journeyLine!, firstEntry!, earlyStepEntry!, ...rest];
  const cases = [1, 3, 1000].flatMap((batchSize) => [
    { order: 'out of order', lines: messy, batchSize },
    { order: 'in order', lines: orderly, batchSize },
  ]);

  it.each(cases)('a scenario with duplicate and rejected lines, $order (batch size $batchSize)', async ({ lines, batchSize }) => {
    const summary = await run(lines, { batchSize });
    // 17 lines: 13 accepted (the journey line included), 1 duplicate (m-1 again), 3 rejected (lines 7, 13, 16)
    expect.soft(summary).toMatchObject({ status: 'completed', lines: 17, accepted: 13, duplicates: 1, rejected: 3 });
    expect(byLine(summary.rejections).map((r) => r.line)).toEqual([7, 13, 16]);
    const all = await report();
    expect(all.overview).toEqual({
      messages_sent: 1, // m-1
      total_entries: 2,
      entry_users: 2,
      converted_users: 1, // u-1 via cv-1
      conversion_events: 1,
      conversion_rate: 50,
      total_exits: 1, // en-2; en-1 converted
      exits_before_first_step: 0,
    });
    expect(all.steps.map((s) => [s.step_id, s.entry_count, s.sent, s.shown, s.exits])).toEqual([
      ['s1', 2, 1, 0, 0],
      ['s2', 1, 0, 1, 1], // en-2's last step is s2
      ['s3', 0, 0, 0, 0],
    ]);
    expect(all.steps[0]?.platforms).toEqual({ android: { sent: 1, failed: 0, clicked: 0 } });
  });

  it.each([1, 3, 1000])('the worked example (batch size %i)', async (batchSize) => {
    const summary = await run(workedExampleLines(), { batchSize });
    expect(summary).toMatchObject({ accepted: 52, duplicates: 0, rejected: 0 });
    // 11 entries, 9 users, 6 converted users with 8 conversion events, 5 exits (see worked-examples.test.ts)
    expect(await overview()).toMatchObject({
      total_entries: 11,
      entry_users: 9,
      converted_users: 6,
      conversion_events: 8,
      total_exits: 5,
      exits_before_first_step: 2,
      messages_sent: 4,
    });
  });
});
