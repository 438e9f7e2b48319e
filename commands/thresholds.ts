// /journey thresholds <journey> [drop=40 failure=10 ctr=1 conversion=2 | reset]: shows or sets a journey's flag thresholds.
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { journeys } from '../db/schema.js';
import { buildThresholdsMessage } from '../reports/blocks/digest-admin-blocks.js';
import { parseThresholdArgs, resolveThresholds } from '../reports/flags.js';
import { resolveJourneyId } from '../reports/journey-lookup.js';
import { loadJourney } from '../reports/metrics.js';
import { CommandUsageError, type Asker, type CommandAnswer, type CommandDeps } from './command-types.js';

const USAGE = '`/journey thresholds <journey> [drop=40 failure=10 ctr=1 conversion=2 | reset]`';

export async function thresholdsCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const [query, ...assignments] = args;
  if (query === undefined || query === '') throw new CommandUsageError(`Which journey? Usage: ${USAGE}`);
  const journeyId = await resolveJourneyId(deps.db, query);
  const journey = await loadJourney(deps.db, journeyId);
  if (!journey) throw new CommandUsageError(`The journey ${journeyId} no longer exists.`);
  const show = (stored: Record<string, number> | null, changed: string[] | null) =>
    buildThresholdsMessage({
      journeyId,
      journeyName: journey.name,
      stored,
      resolved: resolveThresholds(stored),
      changed,
      changedBy: changed === null ? undefined : asker.userId,
    });

  if (assignments.length === 0) return { kind: 'message', visibility: 'ephemeral', message: show(journey.thresholds, null) };
  if (assignments.length === 1 && assignments[0]!.toLowerCase() === 'reset') {
    await setJourneyThresholds(deps.db, journeyId, null);
    return { kind: 'message', visibility: 'in_channel', message: show(null, Object.keys(journey.thresholds ?? {})) };
  }
  const parsed = parseThresholdArgs(assignments.join(' '));
  if (!parsed.ok) throw new CommandUsageError(`${parsed.error} Usage: ${USAGE}`);
  const stored = { ...(journey.thresholds ?? {}), ...(parsed.thresholds as Record<string, number>) };
  await setJourneyThresholds(deps.db, journeyId, stored);
  return { kind: 'message', visibility: 'in_channel', message: show(stored, Object.keys(parsed.thresholds)) };
}

/** Stores a journey's own thresholds (null: back to the defaults); imports never overwrite them. */
export async function setJourneyThresholds(db: Db, journeyId: string, thresholds: Record<string, number> | null): Promise<void> {
  await db.update(journeys).set({ thresholds }).where(eq(journeys.journeyId, journeyId));
}
