// Answers a /journey command without Slack, as readable text: what the app would post, and the CSV it would upload.
import { answerJourneyCommand } from '../commands/journey-command.js';
import type { CommandDeps } from '../commands/command-types.js';
import { describeExport, nothingToExport, rowsText } from '../commands/export.js';
import { formatRunTime } from '../jobs/post-digest.js';
import { buildFunnelChart } from '../reports/charts.js';
import { buildDigestMessage, type DigestChart } from '../reports/blocks/digest-blocks.js';
import { renderMessageAsText } from '../reports/blocks/render-text.js';
import { unescapeMrkdwn } from '../reports/format.js';
import type { Digest } from '../reports/digest.js';
import { exportCsv } from '../reports/exports.js';

export async function previewCommand(
  deps: CommandDeps,
  text: string,
  options: { tz: string; userId?: string; channelId?: string; write: (chunk: string) => void | Promise<void> },
): Promise<{ error?: unknown }> {
  const asker = { userId: options.userId ?? 'U_PREVIEW', channelId: options.channelId ?? 'C_PREVIEW', tz: options.tz };
  const { answer, error } = await answerJourneyCommand(deps, asker, text);
  if (answer.kind === 'message') {
    const visibility = answer.visibility === 'ephemeral' ? '(only visible to you)' : '(visible in the channel)';
    await options.write(`${visibility}\n${renderMessageAsText(answer.message)}\n`);
    return { error };
  }
  if (answer.kind === 'digest') {
    const message = buildDigestMessage({
      digest: answer.digest,
      charts: chartsInWords(answer.digest),
      origin: answer.origin,
      formatTime: (at) => formatRunTime(at, answer.digest.tz),
      campaignReportUrl: deps.campaignReportUrl ?? null,
    });
    await options.write(`(posted in the channel)\n${renderMessageAsText(message)}\n`);
    return { error };
  }
  if (answer.rows === 0) {
    await options.write(`(only visible to you)\n${renderMessageAsText(nothingToExport(answer.request, answer.periodLabel))}\n`);
    return { error };
  }
  await options.write(
    `(visible in the channel)\nExport: ${unescapeMrkdwn(describeExport(answer.request))}\n${rowsText(answer.rows)} · ${answer.periodLabel} · time zone ${answer.tz}\n── thread: CSV file ──\n`,
  );
  for await (const chunk of exportCsv(deps.db, answer.request)) await options.write(chunk);
  return { error };
}

/** A text preview shows no pictures: each chart is given in words (its alt text). */
function chartsInWords(digest: Digest): Map<string, DigestChart> {
  return new Map(
    digest.journeys.map((item): [string, DigestChart] => {
      const chart = buildFunnelChart({ report: item.report, journey: item.journey, periodLabel: digest.periodLabel });
      return [item.journey.journeyId, { image: { kind: 'none', reason: 'this is a text preview' }, altText: chart.altText, title: chart.title }];
    }),
  );
}
