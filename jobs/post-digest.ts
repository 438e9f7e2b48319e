// Posts one digest into a channel: renders each journey's chart (a QuickChart URL, or a PNG made here and uploaded
// to Slack), posts the digest, then its thread. Reports progress so a retried run continues instead of repeating.
import type { WebClient } from '@slack/web-api';
import { DateTime } from 'luxon';
import { renderChartPng } from '../reports/chart-png.js';
import { buildFunnelChart, quickChartFor, quickChartUrl, type FunnelChart } from '../reports/charts.js';
import type { Digest } from '../reports/digest.js';
import { buildDigestMessage, type DigestChart, type DigestOrigin } from '../reports/blocks/digest-blocks.js';
import type { SlackMessage } from '../reports/blocks/slack-message.js';
import { postMessageOnce, slackErrorCode, type PostOnceOptions } from '../commands/post-once.js';

export type ChartRenderer = 'quickchart' | 'local';

export interface ChartSettings {
  renderer: ChartRenderer;
  /** Base URL of the QuickChart service (public or self-hosted). */
  quickchartUrl: string;
}

export const PUBLIC_QUICKCHART_URL = 'https://quickchart.io';

export interface PostDigestOptions {
  client: WebClient;
  channel: string;
  digest: Digest;
  origin: DigestOrigin;
  charts: ChartSettings;
  campaignReportUrl: string | null;
  /** What an earlier attempt already posted: its parent ts and how many thread messages. */
  resume?: { parentTs: string | null; threadPartsPosted: number };
  onParentPosted?: (ts: string) => Promise<void>;
  onThreadPartPosted?: (partsPosted: number) => Promise<void>;
  /** Waits between tries of a post whose uploaded chart Slack has not finished processing (tests pass a no-op). */
  sleep?: (ms: number) => Promise<void>;
  /** How each chat.postMessage is tried (a post whose fate is unknown is looked up before it is repeated). */
  postOnce?: PostOnceOptions;
}

export interface PostedDigest {
  ts: string;
  threadParts: number;
  message: SlackMessage;
}

/** "Mon 9 Nov 2026 09:00 (Europe/Istanbul)". */
export function formatRunTime(at: Date, tz: string): string {
  return `${DateTime.fromJSDate(at, { zone: tz }).setLocale('en-US').toFormat('ccc d LLL yyyy HH:mm')} (${tz})`;
}

export async function postDigest(options: PostDigestOptions): Promise<PostedDigest> {
  const { client, channel, digest } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const build = (charts: ReadonlyMap<string, DigestChart>) =>
    buildDigestMessage({
      digest,
      charts,
      origin: options.origin,
      formatTime: (at) => formatRunTime(at, digest.tz),
      campaignReportUrl: options.campaignReportUrl,
    });

  let ts = options.resume?.parentTs ?? null;
  let message: SlackMessage;
  if (ts === null) {
    const charts = await renderCharts(client, digest, options.charts);
    message = build(charts);
    ts = await postParent(client, channel, message, charts, build, sleep, options.postOnce);
    await options.onParentPosted?.(ts);
  } else {
    // The parent is out already; only the thread is left, and it does not depend on the charts.
    message = build(new Map());
  }
  const from = options.resume?.threadPartsPosted ?? 0;
  for (let i = from; i < message.thread.length; i++) {
    const part = message.thread[i]!;
    await postMessageOnce(client, { channel, thread_ts: ts, text: part.text, blocks: part.blocks }, options.postOnce);
    await options.onThreadPartPosted?.(i + 1);
  }
  return { ts, threadParts: message.thread.length, message };
}

/**
 * Posts the parent. A chart uploaded a moment ago may not be ready for an image block yet (Slack answers
 * invalid_blocks); it is tried twice more, then posted without the pictures, their alt text standing in.
 */
async function postParent(
  client: WebClient,
  channel: string,
  message: SlackMessage,
  charts: ReadonlyMap<string, DigestChart>,
  build: (charts: ReadonlyMap<string, DigestChart>) => SlackMessage,
  sleep: (ms: number) => Promise<void>,
  postOnce: PostOnceOptions | undefined,
): Promise<string> {
  const usesFiles = [...charts.values()].some((c) => c.image.kind === 'file');
  for (let attempt = 1; ; attempt++) {
    try {
      return await postMessageOnce(client, { channel, text: message.text, blocks: message.blocks }, postOnce);
    } catch (err) {
      if (!usesFiles || slackErrorCode(err) !== 'invalid_blocks') throw err;
      if (attempt < 3) {
        await sleep(attempt * 1000);
        continue;
      }
      const without = new Map(
        [...charts].map(([id, c]): [string, DigestChart] => [id, { ...c, image: { kind: 'none', reason: 'Slack did not accept the chart image' } }]),
      );
      const fallback = build(without);
      return await postMessageOnce(client, { channel, text: fallback.text, blocks: fallback.blocks }, postOnce);
    }
  }
}

/** Each journey's chart, as the configured renderer makes it. */
export async function renderCharts(client: WebClient, digest: Digest, settings: ChartSettings): Promise<Map<string, DigestChart>> {
  const charts = new Map<string, DigestChart>();
  for (const item of digest.journeys) {
    if (item.report.steps.length === 0) continue;
    const chart = buildFunnelChart({ report: item.report, journey: item.journey, periodLabel: digest.periodLabel });
    const image =
      settings.renderer === 'local'
        ? await uploadChart(client, chart, `${item.journey.journeyId}-funnel.png`)
        : await chartUrl(chart, item, digest, settings.quickchartUrl);
    charts.set(item.journey.journeyId, { image, altText: chart.altText, title: chart.title });
  }
  return charts;
}

/**
 * The image URL; a journey with many steps can make it longer than Slack accepts, so labels are shortened first,
 * and on the public service (the only one with short links) a short link is asked for.
 */
async function chartUrl(chart: FunnelChart, item: Digest['journeys'][number], digest: Digest, base: string): Promise<DigestChart['image']> {
  const url = quickChartUrl(chart, base);
  if (url !== null) return { kind: 'url', url };
  const shorter = buildFunnelChart({ report: item.report, journey: item.journey, periodLabel: digest.periodLabel, labelChars: 14 });
  const shortUrl = quickChartUrl(shorter, base);
  if (shortUrl !== null) return { kind: 'url', url: shortUrl };
  if (new URL(base).host === new URL(PUBLIC_QUICKCHART_URL).host) {
    return { kind: 'url', url: await quickChartFor(chart, base).getShortUrl() };
  }
  return { kind: 'none', reason: 'the chart is too large for an image link; CHART_RENDERER=local draws it' };
}

/** Renders the PNG and uploads it privately: the digest's image block then shows it to the channel. */
async function uploadChart(client: WebClient, chart: FunnelChart, filename: string): Promise<DigestChart['image']> {
  const png = renderChartPng(chart);
  const ticket = await client.files.getUploadURLExternal({ filename, length: png.length, alt_text: chart.altText.slice(0, 1000) });
  if (!ticket.upload_url || !ticket.file_id) throw new Error('Slack gave no upload URL for the chart');
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(ticket.upload_url, {
      method: 'POST',
      headers: { 'content-type': 'image/png', 'content-length': String(png.length) },
      body: new Uint8Array(png),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) break;
    const retryable = response.status === 429 || response.status >= 500;
    if (!retryable || attempt >= 3) throw new Error(`chart upload failed with HTTP ${response.status}`);
    const retryAfter = Number(response.headers.get('retry-after'));
    await new Promise((r) => setTimeout(r, (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : attempt) * 1000));
  }
  await client.files.completeUploadExternal({ files: [{ id: ticket.file_id, title: chart.title }] });
  return { kind: 'file', fileId: ticket.file_id };
}
