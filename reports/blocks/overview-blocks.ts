// The /journey overview answer: the six overview cards, the period, and the Steps and export buttons.
import type { Button } from '@slack/types';
import { escapeMrkdwn, formatCode, formatCount, formatPartOf, formatPercent, NOT_AVAILABLE } from '../format.js';
import type { JourneyInfo, JourneyReport } from '../report-types.js';
import { ACTION_IDS, actionId, actionValueFor, encodeActionValue, type ActionContext } from './actions.js';
import { actionsBlock, button, contextBlock, fieldsBlock, headerBlock, singleMessage, type SlackMessage } from './slack-message.js';

const NO_CONVERSION_EVENT = `${NOT_AVAILABLE} (no conversion event set)`;

export function buildOverviewMessage(input: {
  report: JourneyReport;
  journey: JourneyInfo;
  periodLabel: string;
  context: ActionContext;
}): SlackMessage {
  const { report, journey, periodLabel, context } = input;
  const o = report.overview;
  const hasConversion = journey.conversionEvent !== null;
  const conversionCount = (n: number | null) => (hasConversion && n !== null ? formatCount(n) : NO_CONVERSION_EVENT);
  let conversionRate = NO_CONVERSION_EVENT;
  if (hasConversion) {
    conversionRate =
      o.conversion_rate === null || o.converted_users === null
        ? `${NOT_AVAILABLE} (no users entered)`
        : `${formatPercent(o.conversion_rate)} (${formatPartOf(o.converted_users, o.entry_users, 'users')})`;
  }

  const cards: Array<[string, string]> = [
    ['Messages Sent', formatCount(o.messages_sent)],
    ['Total Entries', formatCount(o.total_entries)],
    ['Conversion Rate', conversionRate],
    ['Total Converted Users', conversionCount(o.converted_users)],
    ['Total Conversion Events', conversionCount(o.conversion_events)],
    ['Total Exits', formatCount(o.total_exits)],
  ];

  const buttons: Button[] = [
    button({
      text: 'Steps',
      actionId: ACTION_IDS.steps,
      value: encodeActionValue(actionValueFor(journey.journeyId, context)),
      primary: true,
    }),
  ];
  // An export of a metric that is 0 (or n/a) has nothing to export, so its button is left out (SLACK.md).
  if (hasConversion && (o.converted_users ?? 0) > 0) {
    buttons.push(
      button({
        text: 'Export converted users',
        actionId: actionId(ACTION_IDS.export, 'converted-users'),
        value: encodeActionValue(actionValueFor(journey.journeyId, context, { x: 'converted-users' })),
      }),
    );
  }
  if (hasConversion && (o.conversion_events ?? 0) > 0) {
    buttons.push(
      button({
        text: 'Export conversion events',
        actionId: actionId(ACTION_IDS.export, 'conversion-events'),
        value: encodeActionValue(actionValueFor(journey.journeyId, context, { x: 'conversion-events' })),
      }),
    );
  }

  const exitsNote =
    (o.total_exits === 0
      ? 'No exits'
      : `${formatCount(o.exits_before_first_step)} of the ${formatCount(o.total_exits)} ${o.total_exits === 1 ? 'exit' : 'exits'} left before the first step`) +
    (hasConversion ? '' : ' · no conversion event set, so every exit counts');
  const fallback =
    `${escapeMrkdwn(report.journey.name)} (${periodLabel}): ${formatCount(o.messages_sent)} messages sent, ` +
    `${formatCount(o.total_entries)} entries, conversion rate ${hasConversion ? formatPercent(o.conversion_rate) : NOT_AVAILABLE}, ` +
    `${formatCount(o.total_exits)} exits`;

  return singleMessage(fallback, [
    headerBlock(report.journey.name),
    fieldsBlock(cards),
    contextBlock(exitsNote),
    contextBlock(`Period: ${periodLabel} · Journey ${formatCode(journey.journeyId)}`),
    actionsBlock(buttons),
  ]);
}
