// Reads "<journey> … [period]" the same way for every report subcommand.
import type { ActionContext } from '../reports/blocks/actions.js';
import { computeFlags, resolveThresholds } from '../reports/flags.js';
import { formatPeriodLabel } from '../reports/format.js';
import { resolveJourneyId } from '../reports/journey-lookup.js';
import { computeReport, loadJourney } from '../reports/metrics.js';
import { ALL_TIME, type JourneyInfo, type Period } from '../reports/report-types.js';
import { looksLikePeriod, parsePeriod, PERIOD_HELP } from '../reports/periods.js';
import { CommandUsageError, type Asker, type CommandDeps } from './command-types.js';

export interface ReportTarget {
  journey: JourneyInfo;
  period: Period;
  periodLabel: string;
  context: ActionContext;
  /** The words between the journey and the period (a step, an export kind…). */
  rest: string[];
}

export async function reportTarget(deps: CommandDeps, asker: Asker, args: string[], usage: string): Promise<ReportTarget> {
  const [query, ...more] = args;
  if (query === undefined || query === '') throw new CommandUsageError(`Which journey? Usage: \`/journey ${usage}\``);
  const last = more.at(-1);
  const periodText = last !== undefined && looksLikePeriod(last) ? last : undefined;
  const rest = periodText === undefined ? more : more.slice(0, -1);
  const period = periodText === undefined ? ALL_TIME : parsePeriod(periodText, asker.tz, deps.now());
  return targetFor(deps, await resolveJourneyId(deps.db, query), period, asker.tz, rest);
}

/**
 * Refuses words a report command does not take after its journey: most often a mistyped period ("last-week"),
 * which would otherwise be passed over and the report answered for all time, as if no period had been asked for.
 */
export function refuseMoreWords(target: ReportTarget, usage: string): void {
  if (target.rest.length === 0) return;
  const words = target.rest.map((w) => `"${w.slice(0, 40)}"`).join(' ');
  throw new CommandUsageError(
    `Unexpected ${words} after the journey: give it at most one period (${PERIOD_HELP}), and quote a journey name with spaces. Usage: \`/journey ${usage}\``,
  );
}

/** The target of a button press: the journey id, period and zone travel in the button's value. */
export async function targetFor(deps: CommandDeps, journeyId: string, period: Period, tz: string, rest: string[] = []): Promise<ReportTarget> {
  const journey = await loadJourney(deps.db, journeyId);
  if (!journey) throw new CommandUsageError(`The journey ${journeyId} no longer exists.`);
  return {
    journey,
    period,
    periodLabel: formatPeriodLabel(period, tz),
    context: { from: period.from, to: period.to, tz },
    rest,
  };
}

/** A target's report with its flags and presentation context: what the step builders take. */
export async function flaggedReport(deps: CommandDeps, target: ReportTarget) {
  const report = await computeReport(deps.db, target.journey, target.period);
  return {
    report,
    journey: target.journey,
    periodLabel: target.periodLabel,
    flags: computeFlags(report, target.journey, resolveThresholds(target.journey.thresholds)),
    campaignReportUrl: deps.campaignReportUrl ?? null,
    context: target.context,
  };
}
