// Finds the journey a person meant: by id or name, case-insensitive, a unique prefix being enough.
import { desc, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { journeys } from '../db/schema.js';

export interface JourneyName {
  journeyId: string;
  name: string;
}

export class UnknownJourneyError extends Error {
  override name = 'UnknownJourneyError';
  constructor(
    readonly query: string,
    readonly suggestions: JourneyName[],
  ) {
    super(
      suggestions.length > 0
        ? `No journey matches "${query}". Closest: ${suggestions.map(describe).join(', ')}.`
        : `No journey matches "${query}", and no journeys are stored yet: import some events first.`,
    );
  }
}

export class AmbiguousJourneyError extends Error {
  override name = 'AmbiguousJourneyError';
  constructor(
    readonly query: string,
    readonly candidates: JourneyName[],
  ) {
    super(`"${query}" matches several journeys: ${candidates.map(describe).join(', ')}. Type more of the id or name.`);
  }
}

const describe = (j: JourneyName) => (j.name === j.journeyId ? j.journeyId : `${j.journeyId} (${j.name})`);

/** Pure matching over the known journeys; throws UnknownJourneyError or AmbiguousJourneyError. */
export function matchJourney(query: string, all: JourneyName[]): JourneyName {
  const q = query.trim();
  const lower = q.toLowerCase();
  const tiers: Array<(j: JourneyName) => boolean> = [
    (j) => j.journeyId === q,
    (j) => j.journeyId.toLowerCase() === lower,
    (j) => j.name.toLowerCase() === lower,
    (j) => j.journeyId.toLowerCase().startsWith(lower) || j.name.toLowerCase().startsWith(lower),
  ];
  if (lower !== '') {
    for (const tier of tiers) {
      const hits = all.filter(tier);
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new AmbiguousJourneyError(q, hits.slice(0, 5));
    }
  }
  throw new UnknownJourneyError(q, closestJourneys(lower, all, 3));
}

export function closestJourneys(query: string, all: JourneyName[], count: number): JourneyName[] {
  const score = (j: JourneyName) =>
    Math.min(
      editDistance(query, j.journeyId.toLowerCase()),
      editDistance(query, j.name.toLowerCase()),
      j.name.toLowerCase().includes(query) || j.journeyId.toLowerCase().includes(query) ? 1 : Infinity,
    );
  return [...all]
    .map((j) => ({ j, d: score(j) }))
    .sort((a, b) => a.d - b.d || a.j.journeyId.localeCompare(b.j.journeyId))
    .slice(0, count)
    .map((x) => x.j);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let k = 1; k <= b.length; k++) {
      const above = row[k]!;
      row[k] = Math.min(above + 1, row[k - 1]! + 1, diagonal + (a[i - 1] === b[k - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export async function listJourneyNames(db: Db): Promise<JourneyName[]> {
  return db
    .select({ journeyId: journeys.journeyId, name: journeys.name })
    .from(journeys)
    // Newest activity (the latest entry's time) first; journeys without entries after them, newest defined first. The
    // two clocks are not mixed: an entry's time is the data's, a definition's is when it was imported.
    .orderBy(sql`${journeys.lastActivityAt} desc nulls last`, desc(journeys.updatedAt), journeys.journeyId);
}

export async function resolveJourneyId(db: Db, query: string): Promise<string> {
  return matchJourney(query, await listJourneyNames(db)).journeyId;
}

export class UnknownStepError extends Error {
  override name = 'UnknownStepError';
  constructor(
    readonly query: string,
    readonly journeyId: string,
    readonly stepIds: string[],
    /** The steps a query matched more than one of (by name or prefix), when that was the trouble. */
    readonly matches: Array<{ stepId: string; name: string }> = [],
  ) {
    super(
      matches.length > 1
        ? `"${query}" matches ${matches.length} steps of ${journeyId}: ${matches.map((m) => `${m.stepId} (${m.name})`).join(', ')}. Give one of these ids.`
        : `No step of ${journeyId} matches "${query}". Its steps: ${stepIds.join(', ')}.`,
    );
  }
}

/** A step by id or name, case-insensitive, a unique prefix being enough. */
export function matchStep(journey: { journeyId: string; steps: Array<{ stepId: string; name: string }> }, query: string): string {
  const named = journey.steps.map((s) => ({ journeyId: s.stepId, name: s.name }));
  try {
    return matchJourney(query, named).journeyId;
  } catch (err) {
    if (err instanceof AmbiguousJourneyError) {
      const matches = err.candidates.map((c) => ({ stepId: c.journeyId, name: c.name }));
      throw new UnknownStepError(query, journey.journeyId, journey.steps.map((s) => s.stepId), matches);
    }
    throw new UnknownStepError(query, journey.journeyId, journey.steps.map((s) => s.stepId));
  }
}
