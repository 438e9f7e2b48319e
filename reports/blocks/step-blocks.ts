// The /journey step answer: one step in full, with its rates, breakdowns, Report link and per-status exports.
import type { KnownBlock } from '@slack/types';
import { flagsForStep, type Flag } from '../flags.js';
import { escapeMrkdwn, formatCode, formatCount } from '../format.js';
import type { JourneyInfo, JourneyReport, StepReport } from '../report-types.js';
import type { ActionContext } from './actions.js';
import { buildErrorMessage } from './notice-blocks.js';
import {
  actionsBlock,
  contextBlock,
  fieldsBlock,
  headerBlock,
  paginate,
  sectionBlock,
  SLACK_LIMITS,
  type SlackMessage,
} from './slack-message.js';
import {
  continuationLine,
  KIND_LABELS,
  KIND_STATUSES,
  platformLines,
  rateFields,
  reportButton,
  STATUS_LABELS,
  stepExportButtons,
  warningLines,
} from './step-parts.js';

export function buildStepMessage(input: {
  report: JourneyReport;
  journey: JourneyInfo;
  stepId: string;
  periodLabel: string;
  flags: readonly Flag[];
  campaignReportUrl: string | null;
  context: ActionContext;
}): SlackMessage {
  const { report, journey, stepId, periodLabel, flags, campaignReportUrl, context } = input;
  const index = report.steps.findIndex((s) => s.step_id === stepId);
  const step = report.steps[index];
  if (step === undefined) {
    return buildErrorMessage(`Journey ${formatCode(journey.journeyId)} has no step ${formatCode(stepId)}.`);
  }

  const head: KnownBlock[] = [
    headerBlock(step.name),
    contextBlock(
      `${KIND_LABELS[step.kind]} step ${formatCount(index + 1)} of ${formatCount(report.steps.length)} ` +
        `(${formatCode(step.step_id)}) in *${escapeMrkdwn(report.journey.name)}* (${formatCode(journey.journeyId)}) · Period: ${periodLabel}`,
    ),
  ];
  const stepFlags = flagsForStep(flags, step.step_id);
  if (stepFlags.length > 0) head.push(sectionBlock(warningLines(stepFlags).join('\n')));

  const counts: Array<[string, string]> = [
    ['Entry count', formatCount(step.entry_count)],
    ['Entry users', formatCount(step.entry_users)],
    ...KIND_STATUSES[step.kind].map((status): [string, string] => [STATUS_LABELS[status], formatCount(step[status])]),
    ['Exits here', formatCount(step.exits)],
  ];
  head.push(fieldsBlock(counts));
  const rates = rateFields(step, report, journey);
  if (rates.length > 0) head.push(fieldsBlock(rates));
  const platforms = platformLines(step);
  if (platforms.length > 0) head.push(sectionBlock(`*Platforms*\n${platforms.join('\n')}`));
  const next = continuationLine(step, report, journey);
  if (next !== null) head.push(sectionBlock(`*Next*\n${next}`));

  // Buttons come before the outcome list so a long list that spills into the thread never takes them along.
  const buttons = [reportButton(step, journey, campaignReportUrl, context), ...stepExportButtons(step, journey.journeyId, context)];
  const present = buttons.filter((b) => b !== null);
  if (present.length > 0) head.push(actionsBlock(present));

  return paginate({
    head,
    items: step.kind === 'custom' ? outcomeSections(step) : [],
    title: `${report.journey.name} — ${step.name}`,
    text: `${escapeMrkdwn(report.journey.name)} — ${escapeMrkdwn(step.name)} (${periodLabel}): ${formatCount(step.entry_count)} entries, ${formatCount(step.entry_users)} users`,
  });
}

/** All outcomes of a custom step, packed into as few sections as Slack's text limit allows. */
function outcomeSections(step: StepReport): KnownBlock[][] {
  const lines = Object.entries(step.outcomes).map(([outcome, n]) => `${escapeMrkdwn(outcome)}: ${formatCount(n)}`);
  if (lines.length === 0) return [[sectionBlock('*Outcomes*\nNone recorded.')]];
  const sections: KnownBlock[][] = [];
  let current = '*Outcomes*';
  for (const line of lines) {
    if (current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      sections.push([sectionBlock(current)]);
      current = '*Outcomes (continued)*';
    }
    current += `\n${line}`;
  }
  sections.push([sectionBlock(current)]);
  return sections;
}
