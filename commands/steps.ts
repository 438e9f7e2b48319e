// /journey steps <journey> [period]: every step with its metrics, drop-offs and flags.
import { buildStepsMessage } from '../reports/blocks/steps-blocks.js';
import { computeFlags, resolveThresholds } from '../reports/flags.js';
import { computeReport } from '../reports/metrics.js';
import type { Asker, CommandAnswer, CommandDeps } from './command-types.js';
import { reportTarget, type ReportTarget } from './report-target.js';

export async function stepsCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const target = await reportTarget(deps, asker, args, 'steps <journey> [period]');
  return stepsAnswer(deps, target);
}

export async function stepsAnswer(deps: CommandDeps, target: ReportTarget): Promise<CommandAnswer> {
  const report = await computeReport(deps.db, target.journey, target.period);
  const flags = computeFlags(report, target.journey, resolveThresholds(target.journey.thresholds));
  return {
    kind: 'message',
    visibility: 'in_channel',
    message: buildStepsMessage({
      report,
      journey: target.journey,
      periodLabel: target.periodLabel,
      flags,
      campaignReportUrl: deps.campaignReportUrl ?? null,
      context: target.context,
    }),
  };
}
