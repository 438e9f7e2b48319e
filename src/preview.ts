// Answers a /journey command without Slack, as readable text: what the app would post, and the CSV it would upload.
import { sql, TransactionRollbackError } from 'drizzle-orm';
import { answerJourneyCommand, type AnsweredCommand } from '../commands/journey-command.js';
import type { Asker, CommandAnswer, CommandDeps } from '../commands/command-types.js';
import { queryRows, type Db } from '../db/client.js';
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
): Promise<{ error?: unknown; refused?: boolean }> {
  const asker = { userId: options.userId ?? 'U_PREVIEW', channelId: options.channelId ?? 'C_PREVIEW', tz: options.tz };
  const { answer, error, refused, changed } = await answerWithoutChanges(deps, asker, text);
  await writeAnswer(deps, answer, options);
  // A command that changes settings (digest add and remove, thresholds): shown, and taken back.
  if (changed) await options.write('(a preview: nothing was saved; in Slack this command changes the app\'s settings)\n');
  return { error, refused: refused === true };
}

/**
 * The answer, computed in a transaction that is rolled back: a preview shows what Slack would answer and changes
 * nothing (a digest added in it would post to a channel that does not exist). `changed`: the command wrote something.
 */
async function answerWithoutChanges(deps: CommandDeps, asker: Asker, text: string): Promise<AnsweredCommand & { changed: boolean }> {
  let answered: (AnsweredCommand & { changed: boolean }) | undefined;
  try {
    await deps.db.transaction(async (tx) => {
      const inTx = tx as unknown as Db;
      const result = await answerJourneyCommand({ ...deps, db: inTx }, asker, text);
      answered = { ...result, changed: false };
      // Set once the transaction has written a row (a transaction that only read has no id). After a failed
      // statement the transaction takes no more: the answer is an error answer then, which changed nothing.
      if (!result.error) {
        const [row] = await queryRows<{ id: unknown }>(inTx, sql`select txid_current_if_assigned() as id`);
        answered.changed = row?.id !== null && row?.id !== undefined;
      }
      tx.rollback();
    });
  } catch (err) {
    if (!(err instanceof TransactionRollbackError) || answered === undefined) throw err;
  }
  return answered!;
}

async function writeAnswer(
  deps: CommandDeps,
  answer: CommandAnswer,
  options: { write: (chunk: string) => void | Promise<void> },
): Promise<void> {
  if (answer.kind === 'message') {
    const visibility = answer.visibility === 'ephemeral' ? '(only visible to you)' : '(visible in the channel)';
    await options.write(`${visibility}\n${renderMessageAsText(answer.message)}\n`);
    return;
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
    return;
  }
  if (answer.rows === 0) {
    await options.write(`(only visible to you)\n${renderMessageAsText(nothingToExport(answer.request, answer.periodLabel))}\n`);
    return;
  }
  await options.write(
    `(visible in the channel)\nExport: ${unescapeMrkdwn(describeExport(answer.request))}\n${rowsText(answer.rows)} · ${answer.periodLabel} · time zone ${answer.tz}\n── thread: CSV file ──\n`,
  );
  for await (const chunk of exportCsv(deps.db, answer.request)) await options.write(chunk);
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
