// Puts an answer into Slack: ephemeral or in-channel replies through response_url, long answers continued in
// their thread, exports as a post naming the export with the CSV uploaded into its thread.
import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { postDigest, PUBLIC_QUICKCHART_URL, type ChartSettings } from '../jobs/post-digest.js';
import { buildErrorMessage, buildNoticeMessage } from '../reports/blocks/notice-blocks.js';
import type { SlackMessage, SlackMessagePart } from '../reports/blocks/slack-message.js';
import type { CommandAnswer, CommandDeps } from './command-types.js';
import { describeExport, nothingToExport, rowsText } from './export.js';
import { exportDenial, exportRateDenial, recordExport, type ExportPolicy } from './export-policy.js';
import { postMessageOnce, slackErrorCode } from './post-once.js';
import { UploadError, uploadExport } from './upload-export.js';

export interface DeliveryDeps extends CommandDeps {
  policy: ExportPolicy;
  /** CSV files larger than this many bytes are uploaded gzipped. */
  gzipAbove: number;
  log: { error(message: string, err?: unknown): void; info(message: string): void };
  /** How long one chat.postMessage attempt may take before it counts as failed (default 10 s). */
  slackTimeoutMs?: number;
  /** How digest charts are drawn (default: the public QuickChart service). */
  charts?: ChartSettings;
}

export interface Delivery {
  client: WebClient;
  respond: RespondFn;
  channelId: string;
  userId: string;
  /** The message an export button sits on: its upload goes into that message's thread. */
  threadTs?: string;
}

const NOT_IN_CHANNEL = 'I can’t post in this channel yet. Invite me with `/invite @Journey Analytics` and ask again.';

/** Slack refused because the app is not in the channel (or cannot see it). */
const notInChannel = (err: unknown) => slackError(err) === 'not_in_channel' || slackError(err) === 'channel_not_found';

/** Slack's error code of a failed Web API call, also when it is the cause of an UploadError. */
function slackError(err: unknown): string | undefined {
  return slackErrorCode(err) ?? (err instanceof UploadError ? slackErrorCode(err.cause) : undefined);
}

async function postParts(client: WebClient, channel: string, message: SlackMessage, timeoutMs?: number): Promise<string> {
  const ts = await postMessageOnce(client, { channel, text: message.text, blocks: message.blocks }, { timeoutMs });
  for (const part of message.thread) {
    await postMessageOnce(client, { channel, thread_ts: ts, text: part.text, blocks: part.blocks }, { timeoutMs });
  }
  return ts;
}

const reply = (respond: RespondFn, part: SlackMessagePart, visibility: 'in_channel' | 'ephemeral') =>
  respond({ response_type: visibility, replace_original: false, text: part.text, blocks: part.blocks });

export async function deliverAnswer(deps: DeliveryDeps, to: Delivery, answer: CommandAnswer): Promise<void> {
  if (answer.kind === 'message') {
    const { message, visibility } = answer;
    if (visibility === 'ephemeral' || message.thread.length === 0) {
      await reply(to.respond, message, visibility);
      return;
    }
    // A thread needs the parent's ts, which only chat.postMessage returns.
    try {
      await postParts(to.client, to.channelId, message, deps.slackTimeoutMs);
    } catch (err) {
      if (!notInChannel(err)) throw err;
      await reply(to.respond, message, 'in_channel');
      await reply(to.respond, buildNoticeMessage(`${message.thread.length} more part(s) of this answer belong in its thread. ${NOT_IN_CHANNEL}`), 'ephemeral');
    }
    return;
  }
  if (answer.kind === 'digest') {
    await deliverDigest(deps, to, answer);
    return;
  }
  await deliverExport(deps, to, answer);
}

/** `digest now`: the same post a scheduled run makes, in the asker's channel, with no run to record. */
async function deliverDigest(deps: DeliveryDeps, to: Delivery, answer: Extract<CommandAnswer, { kind: 'digest' }>): Promise<void> {
  try {
    await postDigest({
      client: to.client,
      channel: to.channelId,
      digest: answer.digest,
      origin: answer.origin,
      charts: deps.charts ?? { renderer: 'quickchart', quickchartUrl: PUBLIC_QUICKCHART_URL },
      campaignReportUrl: deps.campaignReportUrl ?? null,
    });
  } catch (err) {
    if (!notInChannel(err)) throw err;
    await reply(to.respond, buildErrorMessage(NOT_IN_CHANNEL), 'ephemeral');
  }
}

async function deliverExport(deps: DeliveryDeps, to: Delivery, answer: Extract<CommandAnswer, { kind: 'export' }>): Promise<void> {
  const { request, rows, periodLabel, tz } = answer;
  const audit = (outcome: 'uploaded' | 'denied' | 'rate-limited' | 'empty' | 'failed', count: number | null) =>
    recordExport(deps.db, {
      actor: to.userId,
      channel: to.channelId,
      journeyId: request.journey.journeyId,
      exportKind: request.kind,
      detail: [request.stepId, request.status, periodLabel].filter(Boolean).join(' '),
      rows: count,
      outcome,
      at: deps.now(),
    });
  const denial = exportDenial(deps.policy, to.userId, to.channelId);
  if (denial) {
    await audit('denied', null);
    deps.log.info(`export refused: ${to.userId} may not export in ${to.channelId}`);
    await reply(to.respond, buildErrorMessage(denial), 'ephemeral');
    return;
  }
  const limited = await exportRateDenial(deps.db, deps.policy, to.userId, deps.now());
  if (limited) {
    await audit('rate-limited', null);
    deps.log.info(`export refused: ${to.userId} reached the hourly export limit`);
    await reply(to.respond, buildErrorMessage(limited), 'ephemeral');
    return;
  }
  // Only after the policy: whether an export is empty tells something about the data too.
  if (rows === 0) {
    await audit('empty', 0);
    await reply(to.respond, nothingToExport(request, periodLabel), 'ephemeral');
    return;
  }
  const what = describeExport(request);
  const rowText = rowsText(rows);
  let threadTs = to.threadTs;
  /** The post this export made to name itself (not a button's message): it promises the CSV in its thread. */
  let posted: string | undefined;
  /** The post naming the export: as made, promising the CSV, and as it is turned when the CSV could not be shared. */
  const exportPost = (failed: boolean) => ({
    text: failed ? `Export failed: ${what}, ${periodLabel}` : `Export: ${what}, ${rowText}, ${periodLabel}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${failed ? ':warning: *Export failed:*' : ':page_facing_up: *Export:*'} ${what}` } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `${rowText} · ${periodLabel} · time zone ${tz} · asked by <@${to.userId}> · ${failed ? 'the CSV could not be uploaded; ask for it again' : 'the CSV is in the thread'}`,
          },
        ],
      },
    ],
  });
  try {
    if (!threadTs) {
      threadTs = posted = await postMessageOnce(to.client, { channel: to.channelId, ...exportPost(false) }, { timeoutMs: deps.slackTimeoutMs });
    }
    const uploaded = await uploadExport({
      db: deps.db,
      client: to.client,
      request,
      tz,
      channel: to.channelId,
      threadTs,
      comment: `${rowText} · ${periodLabel} · time zone ${tz}`,
      gzipAbove: deps.gzipAbove,
    });
    await audit('uploaded', rows);
    deps.log.info(`export ${uploaded.filename} (${rows} rows, ${uploaded.bytes} bytes${uploaded.gzipped ? ', gzipped' : ''}) to ${to.channelId}`);
  } catch (err) {
    await audit('failed', null).catch(() => {});
    if (posted) {
      // The post said the CSV is in its thread: it is not, so the post says so instead.
      await to.client.chat
        .update({ channel: to.channelId, ts: posted, ...exportPost(true) })
        .catch((updateErr: unknown) => deps.log.error('could not mark a failed export post', updateErr));
    }
    if (notInChannel(err)) {
      // Posting may work where sharing a file does not (chat:write.public reaches channels the app is not in).
      deps.log.info(`export not shared: the app is not in ${to.channelId}`);
      await reply(to.respond, buildErrorMessage(posted ? `The CSV could not be shared in this channel. ${NOT_IN_CHANNEL}` : NOT_IN_CHANNEL), 'ephemeral');
      return;
    }
    if (err instanceof UploadError) {
      deps.log.error(`export upload to ${to.channelId} failed`, err);
      await reply(to.respond, buildErrorMessage(`${err.message}. Nothing was shared; ask for the export again in a minute.`), 'ephemeral');
      return;
    }
    throw err;
  }
}
