// The demo data set imports cleanly, again as pure duplicates, and shows the problems it is meant to show.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoEvents, loadDemoData } from '../../db/demo-data.js';
import type { ImportSummary } from '../../db/import/import-events.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { ALL_TIME, type JourneyInfo, type JourneyReport } from '../../reports/report-types.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const now = new Date('2026-11-15T10:30:00.000Z');
const seed = 7;

interface Line {
  type: string;
  event_id?: string;
  journey_id?: string;
  entry_id?: string;
  external_id?: string;
  event?: string;
  reentry?: boolean;
  at?: string;
}

const lines = [...generateDemoEvents({ now, seed })];
const parsed = lines.map((l) => JSON.parse(l) as Line);
const journeyLines = parsed.filter((l) => l.type === 'journey');

let testDb: TestDb;
let first: ImportSummary;
let second: ImportSummary;
const journeys = new Map<string, JourneyInfo>();
const reports = new Map<string, JourneyReport>();

function reportOf(journeyId: string): JourneyReport {
  const report = reports.get(journeyId);
  if (!report) throw new Error(`no report for ${journeyId}`);
  return report;
}

beforeAll(async () => {
  testDb = await openTestDb();
  first = await loadDemoData(testDb.db, { now, seed });
  for (const j of journeyLines) {
    const info = await loadJourney(testDb.db, j.journey_id!);
    if (!info) throw new Error(`journey ${j.journey_id} was not imported`);
    journeys.set(info.journeyId, info);
    reports.set(info.journeyId, await computeReport(testDb.db, info, ALL_TIME));
  }
  second = await loadDemoData(testDb.db, { now, seed });
}, 180_000);

afterAll(async () => {
  await testDb?.close();
});

describe('demo data', () => {
  it('is deterministic for a seed and clock, and changes with the seed', () => {
    expect([...generateDemoEvents({ now, seed })]).toEqual(lines);
    expect([...generateDemoEvents({ now, seed: seed + 1 })].slice(journeyLines.length, 50)).not.toEqual(
      lines.slice(journeyLines.length, 50),
    );
  });

  it('starts with the journeys, has unique ids and nothing after now', () => {
    expect(parsed.slice(0, journeyLines.length).every((l) => l.type === 'journey')).toBe(true);
    const eventIds = parsed.flatMap((l) => (l.event_id === undefined ? [] : [l.event_id]));
    expect(new Set(eventIds).size).toBe(eventIds.length);
    expect(parsed.every((l) => l.at === undefined || Date.parse(l.at) <= now.getTime())).toBe(true);
  });

  it('imports without rejections, and a second import only re-counts the journey definitions', () => {
    expect(first).toMatchObject({ status: 'completed', lines: lines.length, rejected: 0, duplicates: 0 });
    expect(first.accepted).toBe(lines.length);
    // journey lines have no event_id, so they are accepted again; every other line is a duplicate
    expect(second).toMatchObject({
      status: 'completed',
      rejected: 0,
      accepted: journeyLines.length,
      duplicates: lines.length - journeyLines.length,
    });
  });

  it('defines every step kind', () => {
    const kinds = new Set([...journeys.values()].flatMap((j) => j.steps.map((s) => s.kind)));
    expect([...kinds].sort()).toEqual(['condition', 'custom', 'email', 'in_app', 'push', 'sms', 'split', 'wait']);
  });

  it('has a push step failing for about a quarter of its sends', () => {
    const push = reportOf('welcome').steps.find((s) => s.step_id === 'w1');
    expect(push?.kind).toBe('push');
    expect(push!.failed / (push!.sent + push!.failed)).toBeGreaterThan(0.15);
    expect(push!.platforms.android?.failed).toBeGreaterThan(0);
    expect(push!.platforms.ios?.failed).toBeGreaterThan(0);
  });

  it('has an email hardly anyone clicks', () => {
    const email = reportOf('winback').steps.find((s) => s.step_id === 'b3');
    expect(email?.kind).toBe('email');
    expect(email!.clicked / email!.sent).toBeLessThan(0.02);
  });

  it('has a step where more than half of the users do not continue', () => {
    const drops = [...journeys.values()].flatMap((j) => {
      const steps = reportOf(j.journeyId).steps;
      const usersAt = (id: string) => steps.find((s) => s.step_id === id)?.entry_users ?? 0;
      return j.steps
        .filter((s) => s.next.length > 0 && usersAt(s.stepId) > 0)
        .map((s) => 1 - s.next.reduce((sum, n) => sum + usersAt(n), 0) / usersAt(s.stepId));
    });
    expect(Math.max(...drops)).toBeGreaterThan(0.5);
  });

  it('reports no conversion numbers for the journey without a conversion event', () => {
    const withoutEvent = [...journeys.values()].filter((j) => j.conversionEvent === null);
    expect(withoutEvent).toHaveLength(1);
    const overview = reportOf(withoutEvent[0]!.journeyId).overview;
    expect(overview.converted_users).toBeNull();
    expect(overview.conversion_events).toBeNull();
    expect(overview.total_exits).toBeGreaterThan(0);
  });

  it('has users who entered a re-entry journey more than once', () => {
    const reentry = new Set(journeyLines.filter((j) => j.reentry).map((j) => j.journey_id));
    const entriesPerUser = new Map<string, number>();
    for (const l of parsed) {
      if (l.type !== 'journey_entry' || !reentry.has(l.journey_id)) continue;
      const key = `${l.journey_id}/${l.external_id}`;
      entriesPerUser.set(key, (entriesPerUser.get(key) ?? 0) + 1);
    }
    expect(Math.max(...entriesPerUser.values())).toBeGreaterThanOrEqual(2);
    expect(journeyLines.some((j) => j.reentry === false)).toBe(true);
  });

  it('counts conversions inside the windows and leaves out those outside', () => {
    const withEvent = [...journeys.values()].filter((j) => j.conversionEvent !== null);
    expect(withEvent.length).toBeGreaterThanOrEqual(3);
    for (const j of withEvent) {
      const overview = reportOf(j.journeyId).overview;
      const conversionLines = parsed.filter((l) => l.type === 'conversion' && l.event === j.conversionEvent).length;
      expect(overview.converted_users, j.journeyId).toBeGreaterThan(0);
      // conversions before an entry or after its window are in the file but attributed to no entry
      expect(overview.conversion_events!, j.journeyId).toBeLessThan(conversionLines);
      expect(overview.conversion_events!, j.journeyId).toBeGreaterThanOrEqual(overview.converted_users!);
    }
    const journeyEvents = new Set(withEvent.map((j) => j.conversionEvent));
    expect(parsed.some((l) => l.type === 'conversion' && !journeyEvents.has(l.event ?? null))).toBe(true);
  });

  it('leaves some entries still in their journey', () => {
    const entries = parsed.filter((l) => l.type === 'journey_entry').length;
    const exits = parsed.filter((l) => l.type === 'journey_exit').length;
    expect(exits).toBeLessThan(entries);
  });
});
