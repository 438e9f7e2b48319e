// The /journey steps answer: every step in display order with its metrics and flags, split into the thread if long.
import type { KnownBlock } from '@slack/types';
import { flagsForStep, type Flag } from '../flags.js';
import { escapeMrkdwn, formatCode, formatCount } from '../format.js';
import type { JourneyInfo, JourneyReport, StepReport } from '../report-types.js';
import type { ActionContext } from './actions.js';
import { contextBlock, dividerBlock, headerBlock, paginate, sectionBlock, type SlackMessage } from './slack-message.js';
import {
  continuationLine,
  KIND_LABELS,
  messageCountsLine,
  outcomesLine,
  platformLines,
  reportButton,
  warningLines,
} from './step-parts.js';

/** Outcomes listed per custom step here; the single-step answer lists them all. */
const OUTCOMES_IN_LIST = 5;

export function buildStepsMessage(input: {
  report: JourneyReport;
  journey: JourneyInfo;
  periodLabel: string;
  flags: readonly Flag[];
  campaignReportUrl: string | null;
  context: ActionContext;
}): SlackMessage {
  const { report, journey, periodLabel, flags, campaignReportUrl, context } = input;
  const stepIds = new Set(report.steps.map((s) => s.step_id));
  // Journey-level flags, and any about a step this report does not list, go on top so none is lost.
  const topFlags = flags.filter((f) => f.stepId === null || !stepIds.has(f.stepId));
  const title = `${report.journey.name} — steps`;
  const count = report.steps.length;

  const head: KnownBlock[] = [
    headerBlock(title),
    contextBlock(
      `Period: ${periodLabel} · Journey ${formatCode(journey.journeyId)} · ${formatCount(count)} ${count === 1 ? 'step' : 'steps'}`,
    ),
  ];
  if (topFlags.length > 0) head.push(sectionBlock(warningLines(topFlags).join('\n')));
  head.push(dividerBlock());
  if (count === 0) head.push(sectionBlock('This journey has no steps.'));

  const items = report.steps.map((step, index) => [
    sectionBlock(
      stepText(step, index, report, journey, flagsForStep(flags, step.step_id)),
      reportButton(step, journey, campaignReportUrl, context) ?? undefined,
    ),
  ]);

  return paginate({
    head,
    items,
    title,
    text: `${escapeMrkdwn(report.journey.name)}: ${formatCount(count)} ${count === 1 ? 'step' : 'steps'} (${periodLabel})`,
  });
}

function stepText(step: StepReport, index: number, report: JourneyReport, journey: JourneyInfo, flags: Flag[]): string {
  const lines = [
    `*${index + 1}. ${escapeMrkdwn(step.name)}* · ${KIND_LABELS[step.kind]} · ${formatCode(step.step_id)}`,
    `Entries: ${formatCount(step.entry_count)} · Entry users: ${formatCount(step.entry_users)}`,
  ];
  const counts = messageCountsLine(step);
  if (counts !== null) lines.push(counts);
  lines.push(...platformLines(step));
  if (step.kind === 'custom') lines.push(outcomesLine(step, OUTCOMES_IN_LIST));
  const next = continuationLine(step, report, journey);
  if (next !== null) lines.push(next);
  lines.push(`Exits here: ${formatCount(step.exits)}`);
  lines.push(...warningLines(flags));
  return lines.join('\n');
}
