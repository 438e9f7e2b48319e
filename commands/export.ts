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
import { escapeMrkdwn } from '../reports/format.js';
import { matchStep } from '../reports/journey-lookup.js';
import { PERIOD_HELP } from '../reports/periods.js';
import type { SlackMessage } from '../reports/blocks/slack-message.js';
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
  // What is left once the journey, the export and a period that parses are taken: a mistyped period most often.
  const unexpected = (words: string[], after: string) =>
    new CommandUsageError(
      `Unexpected ${words.map((w) => `"${w.slice(0, 40)}"`).join(' ')} after ${after}: give at most one period (${PERIOD_HELP}). Usage: \`/journey ${USAGE}\``,
    );
  if (exportKind !== 'step-users' && stepQuery !== undefined) {
    throw unexpected(target.rest.slice(1), `the export (only step-users takes a step and a status)`);
  }
  if (extra !== undefined) throw unexpected(target.rest.slice(3), 'the status');
  let stepId: string | null = null;
  let stepStatus: StepUserStatus | null = null;
  if (exportKind === 'step-users') {
    if (stepQuery === undefined) {
      throw new CommandUsageError(`step-users needs a step: one of ${target.journey.steps.map((s) => s.stepId).join(', ')}.`);
    }
    stepId = matchStep(target.journey, stepQuery);
    if (status === undefined) throw new CommandUsageError(`step-users needs a status after the step: one of ${STEP_USER_STATUSES.join(', ')}.`);
    if (!(STEP_USER_STATUSES as readonly string[]).includes(status.toLowerCase())) {
      throw new CommandUsageError(`"${status.slice(0, 40)}" is not a status: step-users takes one of ${STEP_USER_STATUSES.join(', ')}.`);
    }
    stepStatus = status.toLowerCase() as StepUserStatus;
  }
  return exportAnswer(deps, target, { journey: target.journey, kind: exportKind, period: target.period, stepId, status: stepStatus });
}

/**
 * The export a command or a button asks for, with its row count. An export with no rows is answered as one too: the
 * delivery applies the export policy and the audit to it like any other, and then says there is nothing to export.
 */
export async function exportAnswer(deps: CommandDeps, target: ReportTarget, request: ExportRequest): Promise<CommandAnswer> {
  const rows = await countExportRows(deps.db, request);
  return { kind: 'export', request, rows, periodLabel: target.periodLabel, tz: target.context.tz };
}

/** What an export with no rows answers, only to the asker. */
export function nothingToExport(request: ExportRequest, periodLabel: string): SlackMessage {
  const conversions = request.kind === 'converted-users' || request.kind === 'conversion-events';
  if (conversions && request.journey.conversionEvent === null) {
    return buildNoticeMessage(
      `Nothing to export: ${describeExport(request)}. The journey has no conversion event, so it counts no conversions (set \`conversion_event\` in its definition).`,
    );
  }
  return buildNoticeMessage(`Nothing to export: ${describeExport(request)} is 0 for ${periodLabel}.`);
}

/** "1 row", "1,234 rows": an export's size as its post and the preview give it. */
export function rowsText(rows: number): string {
  return `${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'}`;
}

/** The export in words, for Slack's mrkdwn: the journey's name and the ids are escaped (a name could hold "<!channel>"). */
export function describeExport(request: ExportRequest): string {
  const what =
    request.kind === 'step-users' ? `${request.status} users of step ${escapeMrkdwn(request.stepId ?? '')}` : request.kind.replace('-', ' ');
  return `${what} of ${escapeMrkdwn(request.journey.name)} (${escapeMrkdwn(request.journey.journeyId)})`;
}
