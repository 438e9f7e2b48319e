// The digest post: per journey the headline numbers with their change against the previous period, the step-funnel
// chart and the flags; the step tables go into the post's thread. Pure: charts arrive already rendered (URL or file).
import type { ImageBlock, KnownBlock } from '@slack/types';
import { headline, type CountChange, type Digest, type DigestJourney, type RateChange } from '../digest.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../flags.js';
import { clipText, escapeMrkdwn, formatCode, formatCount, formatPercent, formatThreshold, NOT_AVAILABLE } from '../format.js';
import { contextBlock, dividerBlock, fieldsBlock, headerBlock, paginate, sectionBlock, SLACK_LIMITS, type SlackMessage, type SlackMessagePart } from './slack-message.js';
import { buildStepsMessage } from './steps-blocks.js';
import { warningLines } from './step-parts.js';

/** Where a journey's chart image comes from: a URL (QuickChart), a file uploaded to Slack, or none (with why). */
export type ChartImage = { kind: 'url'; url: string } | { kind: 'file'; fileId: string } | { kind: 'none'; reason: string };

export interface DigestChart {
  image: ChartImage;
  altText: string;
  title: string;
}

/** Why this digest is posted: a scheduled run of a subscription, or someone asking with `digest now`. */
export type DigestOrigin =
  | { kind: 'scheduled'; subscriptionId: number; schedule: string; scheduledFor: Date; late: boolean }
  | { kind: 'now'; userId: string };

const IMAGE_TEXT_LIMIT = 2000;

export function buildDigestMessage(input: {
  digest: Digest;
  /** Charts by journey id. */
  charts: ReadonlyMap<string, DigestChart>;
  origin: DigestOrigin;
  /** When the scheduled time is shown (late runs), it is formatted by this (in the digest's zone). */
  formatTime: (at: Date) => string;
  campaignReportUrl: string | null;
}): SlackMessage {
  const { digest, charts, origin } = input;
  const names = digest.journeys.map((j) => j.journey.name);
  const title =
    digest.scope.kind === 'all'
      ? `Journey digest: all journeys (${formatCount(digest.journeys.length)})`
      : `Journey digest: ${names[0] ?? digest.scope.journeyId}`;
  const head: KnownBlock[] = [
    headerBlock(title),
    contextBlock(
      `*Last ${formatCount(digest.periodDays)} full ${digest.periodDays === 1 ? 'day' : 'days'}:* ${digest.periodLabel} · ` +
        `compared with ${digest.previousLabel} · time zone ${escapeMrkdwn(digest.tz)}`,
      originText(origin),
    ),
  ];
  if (origin.kind === 'scheduled' && origin.late) {
    head.push(
      sectionBlock(
        `:hourglass: *Late:* this digest was due ${input.formatTime(origin.scheduledFor)} and is posted late ` +
          '(the app was not running then, or Slack did not answer). Older missed digests were skipped, not posted.',
      ),
    );
  }

  const items: KnownBlock[][] = digest.journeys.map((item) => journeyBlocks(item, charts.get(item.journey.journeyId)));
  if (digest.journeys.length === 0) {
    items.push([
      sectionBlock(
        digest.scope.kind === 'all'
          ? 'There are no journeys yet: import events and the next digest will cover them.'
          : `The journey ${formatCode(digest.scope.journeyId)} no longer exists. Remove this digest with \`/journey digest remove\`.`,
      ),
    ]);
  } else {
    items.push([contextBlock(':thread: The step tables of every journey are in this post’s thread.')]);
  }

  const main = paginate({
    head,
    items,
    title,
    text: clipText(fallbackText(digest), SLACK_LIMITS.messageText),
  });
  const stepTables: SlackMessagePart[] = digest.journeys.flatMap((item) => {
    const steps = buildStepsMessage({
      report: item.report,
      journey: item.journey,
      periodLabel: digest.periodLabel,
      flags: item.flags,
      campaignReportUrl: input.campaignReportUrl,
      context: { from: digest.period.from, to: digest.period.to, tz: digest.tz },
    });
    return [{ text: steps.text, blocks: steps.blocks }, ...steps.thread];
  });
  return { ...main, thread: [...main.thread, ...stepTables] };
}

function originText(origin: DigestOrigin): string {
  return origin.kind === 'scheduled'
    ? `Digest #${origin.subscriptionId} · ${escapeMrkdwn(origin.schedule)} · remove with \`/journey digest remove ${origin.subscriptionId}\``
    : `Asked for by <@${origin.userId}> with \`/journey digest now\``;
}

function journeyBlocks(item: DigestJourney, chart: DigestChart | undefined): KnownBlock[] {
  const h = headline(item);
  const noConversion = `${NOT_AVAILABLE} (no conversion event set)`;
  const blocks: KnownBlock[] = [
    sectionBlock(`*${escapeMrkdwn(item.journey.name)}* · ${formatCode(item.journey.journeyId)}`),
    fieldsBlock([
      ['Entries', formatCountChange(h.entries)],
      ['Entry users', formatCountChange(h.entryUsers)],
      ['Messages sent', formatCountChange(h.messagesSent)],
      ['Conversion rate', h.conversionRate === null ? noConversion : formatRateChange(h.conversionRate, item.report.overview.converted_users, item.report.overview.entry_users)],
      ['Converted users', h.convertedUsers === null ? noConversion : formatCountChange(h.convertedUsers)],
      ['Exits', formatCountChange(h.exits)],
    ]),
  ];
  if (chart !== undefined) blocks.push(...chartBlocks(chart));
  blocks.push(...flagSections(item));
  blocks.push(dividerBlock());
  return blocks;
}

function chartBlocks(chart: DigestChart): KnownBlock[] {
  const common = {
    type: 'image' as const,
    alt_text: clipText(chart.altText, IMAGE_TEXT_LIMIT),
    title: { type: 'plain_text' as const, text: clipText(chart.title, IMAGE_TEXT_LIMIT), emoji: true },
  };
  if (chart.image.kind === 'url') return [{ ...common, image_url: chart.image.url } satisfies ImageBlock];
  if (chart.image.kind === 'file') return [{ ...common, slack_file: { id: chart.image.fileId } } satisfies ImageBlock];
  return [contextBlock(`Chart not shown: ${chart.image.reason}. In words: ${escapeMrkdwn(chart.altText)}`)];
}

/** The journey's flags, each naming the step and its figures, packed into as many sections as the text needs. */
function flagSections(item: DigestJourney): KnownBlock[] {
  if (item.flags.length === 0) {
    return [contextBlock(`:white_check_mark: No flags. ${thresholdSummary(item.thresholds)}`)];
  }
  const sections: KnownBlock[] = [];
  let current = `*Flags (${formatCount(item.flags.length)})*`;
  for (const line of warningLines(item.flags)) {
    if (current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      sections.push(sectionBlock(current));
      current = '*Flags (continued)*';
    }
    current += `\n${line}`;
  }
  sections.push(sectionBlock(current));
  return sections;
}

function thresholdSummary(t: Thresholds): string {
  const custom = (Object.keys(DEFAULT_THRESHOLDS) as Array<keyof Thresholds>).some((k) => t[k] !== DEFAULT_THRESHOLDS[k]);
  return (
    `Thresholds${custom ? ' (set for this journey or digest)' : ''}: drop ${formatThreshold(t.drop)}, failure ${formatThreshold(t.failure)}, ` +
    `click rate ${formatThreshold(t.ctr)} (from ${formatCount(t.min_sent)} sent), conversion ${formatThreshold(t.conversion)} (from ${formatCount(t.min_entries)} entries).`
  );
}

/** "11 (+3 from 8, +37.5%)", "5 (+5 from 0)", "8 (same as before)". */
export function formatCountChange(c: CountChange): string {
  if (c.delta === 0) return `${formatCount(c.current)} (same as before)`;
  const sign = c.delta > 0 ? '+' : '-';
  const relative = c.relative === null ? '' : `, ${sign}${formatPercent(Math.abs(c.relative) * 100)}`;
  return `${formatCount(c.current)} (${sign}${formatCount(Math.abs(c.delta))} from ${formatCount(c.previous)}${relative})`;
}

/** "66.7% of 9 users (+6.7 pts from 60.0%)"; n/a where a period had no entry users. */
export function formatRateChange(c: RateChange, converted: number | null, entryUsers: number): string {
  if (c.current === null) return `${NOT_AVAILABLE} (no users entered)`;
  const now = `${formatPercent(c.current)} (${formatCount(converted ?? 0)} of ${formatCount(entryUsers)} users)`;
  if (c.previous === null || c.points === null) return `${now}, before: ${NOT_AVAILABLE}`;
  if (Math.abs(c.points) < 0.05) return `${now}, same as before`;
  const sign = c.points > 0 ? '+' : '-';
  return `${now}, ${sign}${formatPercent(Math.abs(c.points)).replace('%', ' pts')} from ${formatPercent(c.previous)}`;
}

function fallbackText(digest: Digest): string {
  const lines = digest.journeys.map((item) => {
    const o = item.report.overview;
    const rate = item.journey.conversionEvent === null ? NOT_AVAILABLE : formatPercent(o.conversion_rate);
    return `${escapeMrkdwn(item.journey.name)}: ${formatCount(o.total_entries)} entries, conversion ${rate}, ${formatCount(item.flags.length)} flags`;
  });
  return `Journey digest, ${digest.periodLabel}${lines.length > 0 ? `: ${lines.join('; ')}` : ''}`;
}
