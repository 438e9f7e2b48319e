// Answers about digest subscriptions and thresholds: a subscription in one line, this channel's list, a journey's
// thresholds with where each comes from.
import { escapeMrkdwn, formatCode, formatCount, formatThreshold } from '../format.js';
import { DEFAULT_THRESHOLDS, THRESHOLD_KEYS, type ThresholdKey, type Thresholds } from '../flags.js';
import { contextBlock, headerBlock, sectionBlock, singleMessage, SLACK_LIMITS, type SlackMessage } from './slack-message.js';

export interface SubscriptionView {
  id: number;
  /** "*Welcome series* (`welcome`)" or "all journeys" — already mrkdwn. */
  what: string;
  schedule: string;
  tz: string;
  periodDays: number;
  thresholds: Record<string, number> | null;
  createdBy: string;
  /** When it posts next, already formatted in its zone; null when it never will. */
  next: string | null;
}

/** "#3 · *Welcome series* (`welcome`) · daily 09:00 (Europe/Istanbul) · last 7 days · next Tue 3 Nov 2026 09:00 …" */
export function subscriptionLine(s: SubscriptionView): string {
  const overrides = s.thresholds && Object.keys(s.thresholds).length > 0 ? ` · thresholds ${formatOverrides(s.thresholds)}` : '';
  return (
    `*#${s.id}* · ${s.what} · ${escapeMrkdwn(s.schedule)} (${escapeMrkdwn(s.tz)}) · last ${formatCount(s.periodDays)} ` +
    `${s.periodDays === 1 ? 'day' : 'days'}${overrides} · next: ${s.next ?? 'never'} · added by ${mentionOrName(s.createdBy)}`
  );
}

/** A Slack user id becomes a mention; anything else (a subscription added with the CLI) is shown as it is. */
function mentionOrName(who: string): string {
  return /^[UW][A-Z0-9_]+$/.test(who) ? `<@${who}>` : escapeMrkdwn(who);
}

export function formatOverrides(thresholds: Record<string, number>): string {
  return Object.entries(thresholds)
    .map(([k, v]) => `${k}=${PERCENT_KEYS.has(k) ? formatThreshold(v) : formatCount(v)}`)
    .join(' ');
}

const PERCENT_KEYS: ReadonlySet<string> = new Set(['drop', 'failure', 'ctr', 'conversion']);

export function buildDigestAddedMessage(s: SubscriptionView, addedBy: string): SlackMessage {
  const text =
    `:white_check_mark: <@${addedBy}> added digest *#${s.id}*: ${s.what}, ${escapeMrkdwn(s.schedule)} (${escapeMrkdwn(s.tz)}), ` +
    `covering the last ${formatCount(s.periodDays)} full ${s.periodDays === 1 ? 'day' : 'days'}. Next post: ${s.next ?? 'never'}.`;
  return singleMessage(text, [
    sectionBlock(text),
    contextBlock(`Remove it with \`/journey digest remove ${s.id}\` · see this channel’s digests with \`/journey digest list\``),
  ]);
}

export function buildDigestListMessage(views: readonly SubscriptionView[]): SlackMessage {
  if (views.length === 0) {
    const text = 'This channel has no digests. Add one: `/journey digest add welcome daily 09:00` (or `all` for every journey).';
    return singleMessage(text, [sectionBlock(text)]);
  }
  const sections = [];
  let current = '';
  for (const line of views.map(subscriptionLine)) {
    if (current !== '' && current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      sections.push(sectionBlock(current));
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
  }
  if (current !== '') sections.push(sectionBlock(current));
  return singleMessage(`Digests in this channel: ${formatCount(views.length)}`, [
    headerBlock('Digests in this channel'),
    ...sections.slice(0, SLACK_LIMITS.blocksPerMessage - 2),
    contextBlock('Remove one with `/journey digest remove <id>` · post one right away with `/journey digest now <journey|all>`'),
  ]);
}

const THRESHOLD_LABELS: Readonly<Record<ThresholdKey, string>> = {
  drop: 'Drop between steps above',
  failure: 'Failure rate above',
  ctr: 'Click rate below',
  conversion: 'Conversion rate below',
  min_sent: 'Click rate judged from sends of',
  min_entries: 'Conversion judged from entries of',
};

/** A journey's thresholds: each value, and whether it is the default or set for the journey. */
export function buildThresholdsMessage(input: {
  journeyId: string;
  journeyName: string;
  stored: Record<string, number> | null;
  resolved: Thresholds;
  /** The keys just set (a change answer) or null (showing them). */
  changed: readonly string[] | null;
  changedBy?: string;
}): SlackMessage {
  const { resolved, stored, changed } = input;
  const lines = THRESHOLD_KEYS.map((key) => {
    const value = PERCENT_KEYS.has(key) ? formatThreshold(resolved[key]) : formatCount(resolved[key]);
    const own = stored !== null && key in stored;
    const origin = own
      ? `set for this journey (default ${PERCENT_KEYS.has(key) ? formatThreshold(DEFAULT_THRESHOLDS[key]) : formatCount(DEFAULT_THRESHOLDS[key])})`
      : 'default';
    const mark = changed?.includes(key) ? ' ← changed' : '';
    return `• ${THRESHOLD_LABELS[key]} *${value}* \`${key}\` — ${origin}${mark}`;
  });
  const who = input.changedBy ? `<@${input.changedBy}> changed the` : 'The';
  const title = `${who} flag thresholds of *${escapeMrkdwn(input.journeyName)}* (${formatCode(input.journeyId)})`;
  return singleMessage(`${title}: ${formatOverrides({ ...resolved })}`, [
    sectionBlock(`${title}\n${lines.join('\n')}`),
    contextBlock(
      'Change them with `/journey thresholds ' + escapeMrkdwn(input.journeyId) + ' drop=40 failure=10 ctr=1 conversion=2` ' +
        '(percentages; also `min_sent=100 min_entries=100`), or go back to the defaults with `reset`. They apply to steps answers and digests.',
    ),
  ]);
}
