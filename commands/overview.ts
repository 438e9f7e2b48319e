// /journey overview <journey> [period]: the overview cards.
import { buildOverviewMessage } from '../reports/blocks/overview-blocks.js';
import { computeReport } from '../reports/metrics.js';
import type { Asker, CommandAnswer, CommandDeps } from './command-types.js';
import { refuseMoreWords, reportTarget, type ReportTarget } from './report-target.js';

const USAGE = 'overview <journey> [period]';

export async function overviewCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const target = await reportTarget(deps, asker, args, USAGE);
  refuseMoreWords(target, USAGE);
  return overviewAnswer(deps, target);
}

export async function overviewAnswer(deps: CommandDeps, target: ReportTarget): Promise<CommandAnswer> {
  const report = await computeReport(deps.db, target.journey, target.period);
  return {
    kind: 'message',
    visibility: 'in_channel',
    message: buildOverviewMessage({ report, journey: target.journey, periodLabel: target.periodLabel, context: target.context }),
  };
}
