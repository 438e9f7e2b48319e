// /journey steps <journey> [period]: every step with its metrics, drop-offs and flags.
import { buildStepsMessage } from '../reports/blocks/steps-blocks.js';
import type { Asker, CommandAnswer, CommandDeps } from './command-types.js';
import { flaggedReport, refuseMoreWords, reportTarget, type ReportTarget } from './report-target.js';

const USAGE = 'steps <journey> [period]';

export async function stepsCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const target = await reportTarget(deps, asker, args, USAGE);
  refuseMoreWords(target, USAGE);
  return stepsAnswer(deps, target);
}

export async function stepsAnswer(deps: CommandDeps, target: ReportTarget): Promise<CommandAnswer> {
  return { kind: 'message', visibility: 'in_channel', message: buildStepsMessage(await flaggedReport(deps, target)) };
}
