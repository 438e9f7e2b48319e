// Pieces shared by the steps list and the single-step answer: which metrics a kind shows, their wording, and links.
import type { Button } from '@slack/types';
import type { Flag } from '../flags.js';
import { escapeMrkdwn, formatCount, formatNameList, formatPercentOf, formatRate } from '../format.js';
import { clickRate, continuationCounts, failureRate, ratio } from '../rates.js';
import type { JourneyInfo, JourneyReport, Platform, StepKind, StepReport } from '../report-types.js';
import { ACTION_IDS, actionId, actionValueFor, encodeActionValue, type ActionContext, type StepUserStatus } from './actions.js';
import { button, SLACK_LIMITS } from './slack-message.js';

export const KIND_LABELS: Readonly<Record<StepKind, string>> = {
  push: 'Push',
  email: 'Email',
  sms: 'SMS',
  in_app: 'In-app',
  custom: 'Custom',
  wait: 'Wait',
  condition: 'Condition',
  split: 'Split',
};

type MessageStatus = 'sent' | 'failed' | 'shown' | 'clicked';

/** The message counts each kind shows people (METRICS.md "Steps": which fields a person sees). */
export const KIND_STATUSES: Readonly<Record<StepKind, readonly MessageStatus[]>> = {
  push: ['sent', 'failed', 'clicked'],
  email: ['sent', 'failed', 'shown', 'clicked'],
  sms: ['sent', 'failed'],
  in_app: [],
  custom: [],
  wait: [],
  condition: [],
  split: [],
};

export const STATUS_LABELS: Readonly<Record<StepUserStatus, string>> = {
  entered: 'Entered',
  sent: 'Sent',
  failed: 'Failed',
  shown: 'Shown',
  clicked: 'Clicked',
};

const PLATFORM_LABELS: Readonly<Record<Platform, string>> = { android: 'Android', ios: 'iOS', web: 'Web', other: 'Other' };

/** Push always shows android and ios (0 when nothing happened there); other platforms when seen. */
export function platformLines(step: StepReport): string[] {
  if (step.kind !== 'push') return [];
  const seen = Object.keys(step.platforms) as Platform[];
  const platforms = [...new Set<Platform>(['android', 'ios', ...seen])];
  return platforms.map((p) => {
    const c = step.platforms[p] ?? { sent: 0, failed: 0, clicked: 0 };
    return `${PLATFORM_LABELS[p]}: ${formatCount(c.sent)} sent · ${formatCount(c.failed)} failed · ${formatCount(c.clicked)} clicked`;
  });
}

/** "Sent: 2 · Failed: 1 (33.3%) · Clicked: 1 (50.0%)": the kind's message counts, rates in brackets. */
export function messageCountsLine(step: StepReport): string | null {
  const statuses = KIND_STATUSES[step.kind];
  if (statuses.length === 0) return null;
  return statuses
    .map((status) => {
      const count = `${STATUS_LABELS[status]}: ${formatCount(step[status])}`;
      if (status === 'failed') return `${count} (${formatRate(failureRate(step))})`;
      if (status === 'clicked') return `${count} (${formatRate(clickRate(step))})`;
      return count;
    })
    .join(' · ');
}

/** "webhook_ok 12 · webhook_failed 3", the first `max` outcomes in report order. */
export function outcomesLine(step: StepReport, max: number): string {
  const entries = Object.entries(step.outcomes);
  if (entries.length === 0) return 'Outcomes: none recorded';
  const shown = entries.slice(0, max).map(([outcome, n]) => `${escapeMrkdwn(outcome)} ${formatCount(n)}`);
  const more = entries.length > max ? ` · +${formatCount(entries.length - max)} more (see \`/journey step\`)` : '';
  return `Outcomes: ${shown.join(' · ')}${more}`;
}

/** "→ *Welcome email*: 66.7% continue, 33.3% drop (6 → 4 users)", or null for a step that ends the journey. */
export function continuationLine(step: StepReport, report: JourneyReport, journey: JourneyInfo): string | null {
  const counts = continuationCounts(step, report, journey);
  if (counts === null) return null;
  const names = new Map(report.steps.map((s) => [s.step_id, s.name]));
  const next = formatNameList(counts.nextStepIds.map((id) => names.get(id) ?? id));
  const rate = ratio(counts.toUsers, counts.fromUsers);
  if (rate === null) return `→ ${next}: continuation n/a (no users entered this step)`;
  return (
    `→ ${next}: ${formatRate(rate)} continue, ${formatRate(1 - rate)} drop ` +
    `(${formatCount(counts.fromUsers)} → ${formatCount(counts.toUsers)} users)`
  );
}

/** The rates of one step as label/value pairs, only those the kind has. */
export function rateFields(step: StepReport, report: JourneyReport, journey: JourneyInfo): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  const statuses = KIND_STATUSES[step.kind];
  if (statuses.includes('clicked')) fields.push(['Click rate', formatPercentOf(step.clicked, step.sent, 'sent')]);
  if (statuses.includes('failed')) fields.push(['Failure rate', formatPercentOf(step.failed, step.sent + step.failed, 'attempts')]);
  const counts = continuationCounts(step, report, journey);
  if (counts !== null) {
    const rate = ratio(counts.toUsers, counts.fromUsers);
    fields.push([
      'Continuation',
      `${formatRate(rate)} (${formatCount(counts.fromUsers)} → ${formatCount(counts.toUsers)} users)`,
    ]);
    fields.push(['Drop', formatRate(rate === null ? null : 1 - rate)]);
  }
  return fields;
}

export function warningLines(flags: readonly Flag[]): string[] {
  return flags.map((f) => `⚠️ ${f.message}`);
}

/**
 * The campaign report URL from the configured template, or null when there is no template or campaign, or
 * the result is longer than a Slack button URL may be.
 */
export function campaignReportUrl(
  template: string | null | undefined,
  ids: { campaignId: string | null; journeyId: string; stepId: string },
): string | null {
  if (!template || ids.campaignId === null || ids.campaignId === '') return null;
  const values: Record<string, string> = { campaign_id: ids.campaignId, journey_id: ids.journeyId, step_id: ids.stepId };
  const url = template.replace(/\{(campaign_id|journey_id|step_id)\}/g, (_match, key: string) =>
    encodeURIComponent(values[key] ?? ''),
  );
  return url.length <= SLACK_LIMITS.buttonUrl ? url : null;
}

/** The Report link button for a campaign step with sent messages, or null when SLACK.md says there is none. */
export function reportButton(
  step: StepReport,
  journey: JourneyInfo,
  template: string | null | undefined,
  context: ActionContext,
): Button | null {
  if (step.sent <= 0) return null;
  const campaignId = journey.steps.find((s) => s.stepId === step.step_id)?.campaignId ?? null;
  const url = campaignReportUrl(template, { campaignId, journeyId: journey.journeyId, stepId: step.step_id });
  if (url === null) return null;
  return button({
    text: 'Report',
    actionId: ACTION_IDS.campaignReport,
    value: encodeActionValue(actionValueFor(journey.journeyId, context, { s: step.step_id })),
    url,
  });
}

/** The count a step-users export of that status would hold (entered counts step entries). */
export function statusCount(step: StepReport, status: StepUserStatus): number {
  return status === 'entered' ? step.entry_count : step[status];
}

/** "Export failed users (1)" buttons for the kind's statuses whose count is not 0. */
export function stepExportButtons(step: StepReport, journeyId: string, context: ActionContext): Button[] {
  const statuses: StepUserStatus[] = ['entered', ...KIND_STATUSES[step.kind]];
  return statuses
    .filter((status) => statusCount(step, status) > 0)
    .map((status) =>
      button({
        text: `Export ${status} users (${formatCount(statusCount(step, status))})`,
        actionId: actionId(ACTION_IDS.export, 'step-users', status),
        value: encodeActionValue(actionValueFor(journeyId, context, { x: 'step-users', s: step.step_id, st: status })),
      }),
    );
}
