// Property tests: random valid journeys and events, imported in shuffled order, agree with the reference model of METRICS.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client.js';
import * as schema from '../../db/schema.js';
import { importEvents, type ImportSummary } from '../../db/import/import-events.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import type { JourneyReport, Period } from '../../reports/report-types.js';
import { openTestDb, type TestDb } from '../support/test-db.js';
import {
  referenceReport,
  type ContractLine,
  type EventLine,
  type JourneyLine,
  type MessageLine,
} from '../support/reference-metrics.js';
import { mulberry32 } from '../../db/seeded-random.js';

const JOURNEY = 'prop';
const BASE_MS = Date.UTC(2026, 10, 1); // 2026-11-01T00:00:00Z
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const ALL_TIME: Period = { from: null, to: null };
const KINDS = ['push', 'email', 'sms', 'in_app', 'custom', 'wait', 'condition', 'split'] as const;
const MESSAGE_KINDS: ReadonlyArray<(typeof KINDS)[number]> = ['push', 'email', 'sms', 'in_app'];
const STATUSES = ['sent', 'failed', 'shown', 'clicked'] as const;
/** As senders write them: any case, and platforms the report counts as "other". */
const PLATFORMS = ['android', 'ios', 'web', 'iOS', 'ANDROID', 'Web', 'Windows', 'kaios', null] as const;
/** Where a conversion falls relative to an entry of its user. */
const CONVERSION_PLACES = ['before-entry', 'at-entry', 'hours-after-entry', 'at-exit', 'window-edge', 'past-window-edge', 'month-later', 'anywhere'] as const;
/** Offsets (minutes) timestamps are written in: the same instant, other spellings. */
const ZONES = [0, 180, -330, 60] as const;

// Generation works on plain numbers that are read modulo the generated sizes, so shrinking stays valid.
const entryPlan = fc.record({
  idNumber: fc.integer({ min: 0, max: 30 }),
  user: fc.nat(),
  // a few favourite hours make ties in entered_at (attribution then goes to the greatest entry_id)
  enterHour: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 96 }), weight: 3 }, { arbitrary: fc.constantFrom(0, 9, 24, 48), weight: 2 }),
  // most entries on the hour, some inside it (periods whose bounds are not on the hour must still count them)
  enterMinute: fc.constantFrom(0, 0, 0, 17, 30, 59),
  exitAfterHours: fc.option(fc.integer({ min: 0, max: 48 }), { nil: null }),
  visits: fc.array(fc.record({ step: fc.nat(), minute: fc.integer({ min: 0, max: 3 }) }), { maxLength: 4 }),
  messages: fc.array(
    fc.record({ step: fc.nat(), status: fc.constantFrom(...STATUSES), platform: fc.constantFrom(...PLATFORMS) }),
    { maxLength: 4 },
  ),
  outcomes: fc.array(fc.record({ step: fc.nat(), outcome: fc.constantFrom('ok', 'failed', 'timeout') }), { maxLength: 2 }),
});
const conversionPlan = fc.record({
  user: fc.nat(),
  anchor: fc.nat(),
  place: fc.constantFrom(...CONVERSION_PLACES),
  hours: fc.integer({ min: 0, max: 60 }),
  event: fc.constantFrom('purchase', 'purchase', 'signup'),
});
const scenarioPlan = fc.record({
  kinds: fc.array(fc.constantFrom(...KINDS), { minLength: 2, maxLength: 5 }),
  branches: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  reentry: fc.boolean(),
  windowQuarterHours: fc.integer({ min: 0, max: 192 }),
  conversionEvent: fc.option(fc.constant('purchase'), { freq: 5, nil: null }),
  users: fc.integer({ min: 1, max: 4 }),
  entries: fc.array(entryPlan, { maxLength: 8 }),
  conversions: fc.array(conversionPlan, { maxLength: 8 }),
  seed: fc.integer(),
});
type ScenarioPlan = typeof scenarioPlan extends fc.Arbitrary<infer T> ? T : never;

/**
 * An instant from 31 October 22:00 to 5 November 04:59 UTC, usually on the hour, sometimes on an entry's
 * minute or a millisecond after it: periods then cover whole days, whole hours and pieces of hours.
 */
const instant = fc
  .record({
    hour: fc.integer({ min: -2, max: 100 }),
    minute: fc.constantFrom(0, 0, 0, 30, 59),
    ms: fc.constantFrom(0, 0, 0, 1),
  })
  .map(({ hour, minute, ms }) => BASE_MS + hour * HOUR_MS + minute * MINUTE_MS + ms);
const randomPeriod = fc.tuple(instant, instant).map(([a, b]): Period => ({
  from: new Date(Math.min(a, b)),
  to: new Date(Math.max(a, b)),
}));

/** A seeded stream, so one generated seed fixes every shuffle and spelling of a scenario. */
const random = mulberry32;

function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** ISO-8601 with the given zone offset in minutes, millisecond precision. */
function timestamp(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * MINUTE_MS).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

interface Scenario {
  journey: JourneyLine;
  events: EventLine[];
  /** The journey_entry line of each entry_id. */
  entryLines: Map<string, EventLine>;
  seed: number;
}

/** Turns a plan into a journey and events that are valid by construction (EVENTS.md). */
function buildScenario(plan: ScenarioPlan): Scenario {
  const next = random(plan.seed);
  const at = (ms: number) => timestamp(ms, ZONES[Math.floor(next() * ZONES.length)]!);
  const stepIds = plan.kinds.map((_, i) => `s${i + 1}`);
  const journey: JourneyLine = {
    type: 'journey',
    journey_id: JOURNEY,
    name: 'Property journey',
    conversion_event: plan.conversionEvent,
    attribution_window_hours: plan.windowQuarterHours / 4,
    reentry: plan.reentry,
    steps: plan.kinds.map((kind, i) => ({
      step_id: stepIds[i]!,
      name: `Step ${i + 1} (${kind})`,
      kind,
      next: [stepIds[i + 1], plan.branches[i] ? stepIds[i + 2] : undefined].filter((s): s is string => s !== undefined),
    })),
  };
  const messageSteps = stepIds.filter((_, i) => MESSAGE_KINDS.includes(plan.kinds[i]!));
  const customSteps = stepIds.filter((_, i) => plan.kinds[i] === 'custom');

  const events: EventLine[] = [];
  const entryLines = new Map<string, EventLine>();
  const seenUsers = new Set<number>();
  const entries: Array<{ entryId: string; user: number; enteredMs: number; exitedMs: number | null }> = [];
  let counter = 0;
  const eventIds: string[] = [];
  // event_ids in random order, of different lengths ("ev-9" > "ev-10" as strings), so ties break arbitrarily
  const eventId = () => {
    const id = `ev-${counter++}`;
    eventIds.push(id);
    return id;
  };
  for (const e of plan.entries) {
    const entryId = `en-${e.idNumber}`;
    const user = e.user % plan.users;
    if (entryLines.has(entryId) || (!plan.reentry && seenUsers.has(user))) continue;
    seenUsers.add(user);
    const enteredMs = BASE_MS + e.enterHour * HOUR_MS + e.enterMinute * MINUTE_MS;
    const exitedMs = e.exitAfterHours === null ? null : enteredMs + e.exitAfterHours * HOUR_MS;
    entries.push({ entryId, user, enteredMs, exitedMs });
    const entryLine: EventLine = {
      type: 'journey_entry',
      event_id: eventId(),
      journey_id: JOURNEY,
      entry_id: entryId,
      external_id: `u-${user}`,
      at: at(enteredMs),
    };
    entryLines.set(entryId, entryLine);
    events.push(entryLine);
    for (const v of e.visits) {
      const stepId = stepIds[v.step % stepIds.length]!;
      events.push({ type: 'step_entry', event_id: eventId(), journey_id: JOURNEY, entry_id: entryId, step_id: stepId, at: at(enteredMs + v.minute * MINUTE_MS) });
    }
    if (messageSteps.length > 0) {
      for (const m of e.messages) {
        const line: MessageLine = {
          type: 'message',
          event_id: eventId(),
          journey_id: JOURNEY,
          entry_id: entryId,
          step_id: messageSteps[m.step % messageSteps.length]!,
          status: m.status,
          at: at(enteredMs + 5 * MINUTE_MS),
        };
        if (m.platform !== null) line.platform = m.platform;
        if (m.status === 'failed') line.reason = 'device not registered';
        events.push(line);
      }
    }
    if (customSteps.length > 0) {
      for (const o of e.outcomes) {
        events.push({
          type: 'step_outcome',
          event_id: eventId(),
          journey_id: JOURNEY,
          entry_id: entryId,
          step_id: customSteps[o.step % customSteps.length]!,
          outcome: o.outcome,
          at: at(enteredMs + 6 * MINUTE_MS),
        });
      }
    }
    if (exitedMs !== null) {
      events.push({ type: 'journey_exit', event_id: eventId(), journey_id: JOURNEY, entry_id: entryId, at: at(exitedMs), reason: 'completed' });
    }
  }

  const windowMs = journey.attribution_window_hours * HOUR_MS;
  for (const c of plan.conversions) {
    const user = c.user % plan.users;
    const own = entries.filter((e) => e.user === user);
    const anchor = own[c.anchor % Math.max(own.length, 1)];
    let convertedMs = BASE_MS + c.hours * HOUR_MS;
    if (anchor && c.place !== 'anywhere') {
      const exitOrLater = anchor.exitedMs ?? anchor.enteredMs + c.hours * HOUR_MS;
      convertedMs = {
        'before-entry': anchor.enteredMs - 1,
        'at-entry': anchor.enteredMs,
        'hours-after-entry': anchor.enteredMs + c.hours * HOUR_MS,
        'at-exit': exitOrLater,
        'window-edge': anchor.exitedMs === null ? anchor.enteredMs + 30 * DAY_MS : anchor.exitedMs + windowMs,
        'past-window-edge': anchor.exitedMs === null ? anchor.enteredMs + 31 * DAY_MS : anchor.exitedMs + windowMs + 1,
        'month-later': anchor.enteredMs + 30 * DAY_MS,
      }[c.place];
    }
    events.push({ type: 'conversion', event_id: eventId(), external_id: `u-${user}`, event: c.event, at: at(convertedMs) });
  }

  const names = shuffle(eventIds, next);
  const rename = new Map(eventIds.map((id, i) => [id, names[i]!]));
  for (const e of events) e.event_id = rename.get(e.event_id)!;
  return { journey, events, entryLines, seed: plan.seed };
}

/** Every line of the scenario, journey definition included, in a random order. */
function shuffledLines(scenario: Scenario): ContractLine[] {
  return shuffle<ContractLine>([scenario.journey, ...scenario.events], random(scenario.seed ^ 0x5bd1e995));
}

/** A random order in which the journey comes first and each entry's line comes before the entry's events. */
function entriesFirstLines(scenario: Scenario): ContractLine[] {
  const out: ContractLine[] = [scenario.journey];
  const emitted = new Set<string>();
  for (const line of shuffle(scenario.events, random(scenario.seed ^ 0x5bd1e995))) {
    if (line.type === 'conversion') {
      out.push(line);
      continue;
    }
    if (!emitted.has(line.entry_id)) {
      emitted.add(line.entry_id);
      out.push(scenario.entryLines.get(line.entry_id)!);
    }
    if (line.type !== 'journey_entry') out.push(line);
  }
  return out;
}

let testDb: TestDb;
let db: Db;
const tables = Object.values(schema)
  .flatMap((t) => (is(t, PgTable) ? [`"${getTableName(t)}"`] : []));

beforeAll(async () => {
  testDb = await openTestDb();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.close();
});

/** Each run starts from an empty database (truncating is much cheaper than opening a new one). */
async function emptyDatabase(): Promise<void> {
  await db.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
}

async function* each(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}

function importLines(lines: readonly ContractLine[], batchSize?: number): Promise<ImportSummary> {
  return importEvents(db, each(lines.map((l) => JSON.stringify(l))), { source: 'property', batchSize });
}

async function report(p: Period): Promise<JourneyReport> {
  const journey = await loadJourney(db, JOURNEY);
  if (!journey) throw new Error('the journey was not imported');
  return computeReport(db, journey, p);
}

/** Bounded: about 25–40 imports per property; a failure is shrunk for at most the time limit. */
const runs = (numRuns: number) => ({ numRuns, plugins: [fc.interruptAfterTimeLimit(45_000)] });
const PROPERTY_TIMEOUT = 90_000;

// Fully shuffled is what EVENTS.md allows; the second order keeps each entry's line ahead of its events, so
// when only the first fails, the fault is in resolving lines that arrive early rather than in the metrics.
const ORDERS = [
  { order: 'shuffled', linesOf: shuffledLines },
  { order: 'shuffled, each entry line before its events', linesOf: entriesFirstLines },
];

describe('metrics of random valid journeys', () => {
  it.each(ORDERS)(
    'computeReport equals the reference model, all time and for a random period ($order)',
    async ({ linesOf }) => {
      await fc.assert(
        fc.asyncProperty(scenarioPlan, randomPeriod, async (plan, p) => {
          await emptyDatabase();
          const scenario = buildScenario(plan);
          const lines = linesOf(scenario);
          const summary = await importLines(lines, 1 + (plan.seed >>> 0) % 7);
          expect(summary).toMatchObject({ accepted: lines.length, duplicates: 0, rejected: 0 });
          expect(await report(ALL_TIME)).toEqual(referenceReport(lines, JOURNEY, ALL_TIME));
          expect(await report(p)).toEqual(referenceReport(lines, JOURNEY, p));
        }),
        runs(30),
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    're-importing the same lines changes nothing: every event is a duplicate, the report is the same',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioPlan, randomPeriod, async (plan, p) => {
          await emptyDatabase();
          const lines = shuffledLines(buildScenario(plan));
          await importLines(lines);
          const before = [await report(ALL_TIME), await report(p)];
          const again = await importLines(shuffle(lines, random(plan.seed)));
          // the journey line always counts as accepted; every event was stored already
          expect(again).toMatchObject({ accepted: 1, duplicates: lines.length - 1, rejected: 0 });
          expect([await report(ALL_TIME), await report(p)]).toEqual(before);
        }),
        runs(25),
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'counts over adjacent periods add up (except unique users), and converted users never exceed entry users',
    async () => {
      const cuts = fc.tuple(instant, instant, instant).map((t) => t.sort((x, y) => x - y).map((ms) => new Date(ms)));
      await fc.assert(
        fc.asyncProperty(scenarioPlan, cuts, async (plan, [a, b, c]) => {
          await emptyDatabase();
          await importLines(shuffledLines(buildScenario(plan)));
          const [first, second, both] = [
            await report({ from: a!, to: b! }),
            await report({ from: b!, to: c! }),
            await report({ from: a!, to: c! }),
          ];
          for (const field of ['messages_sent', 'total_entries', 'conversion_events', 'total_exits', 'converted_users'] as const) {
            const parts = [first.overview[field], second.overview[field]];
            expect({ field, sum: parts.includes(null) ? null : (parts[0] ?? 0) + (parts[1] ?? 0) }).toEqual({
              field,
              sum: both.overview[field],
            });
          }
          for (const r of [first, second, both, await report(ALL_TIME)]) {
            expect(r.overview.converted_users ?? 0).toBeLessThanOrEqual(r.overview.entry_users);
          }
        }),
        runs(30),
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'importing in two parts, conversions after exits or exits after conversions, gives the same report as one import',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioPlan, randomPeriod, fc.integer(), async (plan, p, splitSeed) => {
          const scenario = buildScenario(plan);
          const lines = shuffledLines(scenario);

          await emptyDatabase();
          await importLines(lines);
          const once = [await report(ALL_TIME), await report(p)];

          // Part one has the journey and most entries; part two the rest. Either every conversion arrives after
          // the exits (attributed late), or every exit after the conversions (which it may invalidate).
          // An entry's events go with it or after it.
          const pick = random(splitSeed);
          const lateConversions = pick() < 0.5;
          const laterEntries = new Set([...scenario.entryLines.keys()].filter(() => pick() < 0.25));
          const early: ContractLine[] = [];
          const late: ContractLine[] = [];
          for (const line of lines) {
            if (line.type === 'journey') early.push(line);
            else if (line.type === 'conversion') (lateConversions ? late : early).push(line);
            else if (laterEntries.has(line.entry_id)) late.push(line);
            else if (line.type === 'journey_entry') early.push(line);
            else if (line.type === 'journey_exit') (lateConversions ? early : late).push(line);
            else (pick() < 0.5 ? early : late).push(line);
          }
          await emptyDatabase();
          const firstPart = await importLines(early, 3);
          const secondPart = await importLines(late, 3);
          expect(firstPart.rejected + secondPart.rejected).toBe(0);
          expect([await report(ALL_TIME), await report(p)]).toEqual(once);
        }),
        runs(25),
      );
    },
    PROPERTY_TIMEOUT,
  );
  it(
    'after the journey is redefined with another conversion event or window, computeReport equals the reference model',
    async () => {
      const redefinition = fc.record({
        conversionEvent: fc.constantFrom('purchase', 'signup', null),
        windowQuarterHours: fc.integer({ min: 0, max: 192 }),
      });
      await fc.assert(
        fc.asyncProperty(scenarioPlan, redefinition, randomPeriod, async (plan, change, p) => {
          await emptyDatabase();
          const scenario = buildScenario(plan);
          const lines = shuffledLines(scenario);
          await importLines(lines);
          const redefined: JourneyLine = {
            ...scenario.journey,
            conversion_event: change.conversionEvent,
            attribution_window_hours: change.windowQuarterHours / 4,
          };
          expect(await importLines([redefined])).toMatchObject({ accepted: 1, rejected: 0 });
          const all = [...lines, redefined];
          expect(await report(ALL_TIME)).toEqual(referenceReport(all, JOURNEY, ALL_TIME));
          expect(await report(p)).toEqual(referenceReport(all, JOURNEY, p));
        }),
        runs(25),
      );
    },
    PROPERTY_TIMEOUT,
  );
});
