// /journey step <journey> <step> [period]: one step in full, with export buttons by status.
import { buildStepMessage } from '../reports/blocks/step-blocks.js';
import { matchStep } from '../reports/journey-lookup.js';
import { CommandUsageError, type Asker, type CommandAnswer, type CommandDeps } from './command-types.js';
import { flaggedReport, reportTarget } from './report-target.js';

const USAGE = 'step <journey> <step> [period]';

export async function stepCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const target = await reportTarget(deps, asker, args, USAGE);
  const [stepQuery, extra] = target.rest;
  if (stepQuery === undefined) {
    throw new CommandUsageError(`Which step? ${target.journey.journeyId} has ${target.journey.steps.map((s) => s.stepId).join(', ')}. Usage: \`/journey ${USAGE}\``);
  }
  if (extra !== undefined) throw new CommandUsageError(`Unexpected "${extra}". Usage: \`/journey ${USAGE}\``);
  const stepId = matchStep(target.journey, stepQuery);
  return { kind: 'message', visibility: 'in_channel', message: buildStepMessage({ ...(await flaggedReport(deps, target)), stepId }) };
}
