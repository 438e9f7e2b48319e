// /journey export <journey> <export> [step] [status] [period]: a CSV uploaded into the thread of a post naming it.
import { buildNoticeMessage } from '../reports/blocks/notice-blocks.js';
import {
  EXPORT_KINDS,
  STEP_USER_STATUSES,
  countExportRows,
  type ExportKind,
  type ExportRequest,
  type StepUserStatus,
} from '../reports/exports.js';
import { matchStep } from '../reports/journey-lookup.js';
import { CommandUsageError, type Asker, type CommandAnswer, type CommandDeps } from './command-types.js';
import { reportTarget, type ReportTarget } from './report-target.js';

const USAGE = `export <journey> <${EXPORT_KINDS.join('|')}> [step] [status] [period]`;

export async function exportCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const target = await reportTarget(deps, asker, args, USAGE);
  const [kind, stepQuery, status, extra] = target.rest;
  if (kind === undefined || !(EXPORT_KINDS as readonly string[]).includes(kind.toLowerCase())) {
    throw new CommandUsageError(
      `${kind === undefined ? 'Which export?' : `"${kind}" is not an export.`} Choose one of ${EXPORT_KINDS.map((k) => `\`${k}\``).join(', ')}. Usage: \`/journey ${USAGE}\``,
    );
  }
  const exportKind = kind.toLowerCase() as ExportKind;
  if (exportKind !== 'step-users' && stepQuery !== undefined) {
    throw new CommandUsageError(`Unexpected "${stepQuery}": only step-users takes a step and a status. Usage: \`/journey ${USAGE}\``);
  }
  if (extra !== undefined) throw new CommandUsageError(`Unexpected "${extra}". Usage: \`/journey ${USAGE}\``);
  let stepId: string | null = null;
  let stepStatus: StepUserStatus | null = null;
  if (exportKind === 'step-users') {
    if (stepQuery === undefined) {
      throw new CommandUsageError(`step-users needs a step: one of ${target.journey.steps.map((s) => s.stepId).join(', ')}.`);
    }
    stepId = matchStep(target.journey, stepQuery);
    if (status === undefined || !(STEP_USER_STATUSES as readonly string[]).includes(status.toLowerCase())) {
      throw new CommandUsageError(`step-users needs a status: one of ${STEP_USER_STATUSES.join(', ')}.`);
    }
    stepStatus = status.toLowerCase() as StepUserStatus;
  }
  return exportAnswer(deps, target, { journey: target.journey, kind: exportKind, period: target.period, stepId, status: stepStatus });
}

export async function exportAnswer(deps: CommandDeps, target: ReportTarget, request: ExportRequest): Promise<CommandAnswer> {
  const rows = await countExportRows(deps.db, request);
  if (rows === 0) {
    return {
      kind: 'message',
      visibility: 'ephemeral',
      message: buildNoticeMessage(`Nothing to export: ${describeExport(request)} is 0 for ${target.periodLabel}.`),
    };
  }
  return { kind: 'export', request, rows, periodLabel: target.periodLabel, tz: target.context.tz };
}

export function describeExport(request: ExportRequest): string {
  const what = request.kind === 'step-users' ? `${request.status} users of step ${request.stepId}` : request.kind.replace('-', ' ');
  return `${what} of ${request.journey.name} (${request.journey.journeyId})`;
}
