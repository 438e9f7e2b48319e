// /journey list [words]: journeys with entries and conversion rate, newest activity first.
import { buildListMessage } from '../reports/blocks/list-blocks.js';
import { listJourneyNames } from '../reports/journey-lookup.js';
import { computeReport, loadJourney } from '../reports/metrics.js';
import { ALL_TIME } from '../reports/report-types.js';
import type { CommandAnswer, CommandDeps } from './command-types.js';

export const LIST_LIMIT = 20;

export async function listCommand(deps: CommandDeps, words: string[]): Promise<CommandAnswer> {
  const needles = words.map((w) => w.toLowerCase());
  const matching = (await listJourneyNames(deps.db)).filter((j) =>
    needles.every((w) => j.journeyId.toLowerCase().includes(w) || j.name.toLowerCase().includes(w)),
  );
  const rows = [];
  for (const j of matching.slice(0, LIST_LIMIT)) {
    const journey = await loadJourney(deps.db, j.journeyId);
    if (!journey) continue;
    const { overview } = await computeReport(deps.db, journey, ALL_TIME);
    rows.push({ journeyId: j.journeyId, name: j.name, totalEntries: overview.total_entries, conversionRate: overview.conversion_rate });
  }
  return {
    kind: 'message',
    visibility: 'in_channel',
    message: buildListMessage(rows, Math.max(0, matching.length - LIST_LIMIT)),
  };
}
