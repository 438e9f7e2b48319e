// `npm run cli -- digest …`: manage digest subscriptions, and run the digest job once (for an external scheduler).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createSubscription, parsePeriodDays, splitDigestOptions, subscriptionViews } from '../commands/digest.js';
import { CommandUsageError } from '../commands/command-types.js';
import type { Db } from '../db/client.js';
import { listSubscriptions, removeSubscription } from '../db/digest-store.js';
import { runDueDigests } from '../jobs/run-due-digests.js';
import { parseTimestamp } from '../db/import/parse-event.js';
import { loadConfig } from './config.js';
import { chartSettingsFrom, createDigestSlackClient } from './digest-scheduler.js';
import { createLogger } from './logger.js';

export const DIGEST_USAGE = `  digest add --channel C --journey <journey|all> --schedule "daily 09:00" [--tz ZONE] [--days N]
             [--thresholds "drop=30 failure=5"] [--created-by NAME]
      Subscribe a channel to a digest (schedules: daily HH:MM, weekdays HH:MM, weekly mon HH:MM, or a 5-field cron).
  digest list [--channel C] [--json]
      The digest subscriptions, with when each posts next.
  digest remove ID
      Remove a subscription and its run history.
  digest run-due [--now ISO] [--json]
      Post every digest that is due and not yet posted, once, then exit (SLACK_BOT_TOKEN, SLACK_API_URL);
      safe to run from several machines at once. Exit 1 when a post failed (it is retried on a later run).`;

export interface DigestCliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  now: () => Date;
}

/** Thrown for arguments that are wrong; the CLI prints it with the usage and exits 2. */
export class DigestCliUsageError extends Error {
  override name = 'DigestCliUsageError';
}

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

function parse<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new DigestCliUsageError((err as Error).message);
  }
}

export async function digestCli(args: string[], io: DigestCliIo, openDb: () => Promise<Db>): Promise<number> {
  const [action, ...rest] = args;
  if (action === 'help' || action === '--help' || action === '-h' || rest.includes('--help') || rest.includes('-h')) {
    write(io.stdout, `Usage: npm run cli -- digest …\n${DIGEST_USAGE}`);
    return 0;
  }
  switch (action) {
    case 'add':
      return addCommand(rest, io, openDb);
    case 'list':
      return listCommand(rest, io, openDb);
    case 'remove':
      return removeCommand(rest, io, openDb);
    case 'run-due':
      return runDueCommand(rest, io, openDb);
    default:
      throw new DigestCliUsageError(action === undefined ? 'digest needs add, list, remove or run-due' : `unknown digest command "${action}"`);
  }
}

async function addCommand(args: string[], io: DigestCliIo, openDb: () => Promise<Db>): Promise<number> {
  const { values, positionals } = parse(args, {
    channel: { type: 'string' },
    journey: { type: 'string' },
    schedule: { type: 'string' },
    tz: { type: 'string' },
    days: { type: 'string' },
    thresholds: { type: 'string' },
    'created-by': { type: 'string' },
  });
  if (positionals.length > 0) throw new DigestCliUsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.channel || !values.journey || !values.schedule) throw new DigestCliUsageError('digest add needs --channel, --journey and --schedule');
  if (!/^[A-Z0-9_]+$/i.test(values.channel)) {
    throw new DigestCliUsageError(`--channel "${values.channel}" is not a Slack channel id: give one like C0123ABCD (in Slack, the channel's details show it at the bottom)`);
  }
  const config = loadConfig(io.env);
  let options;
  try {
    options = splitDigestOptions(values.thresholds ? values.thresholds.split(/[\s,]+/).filter((w) => w !== '') : []).options;
    if (values.days !== undefined) options.periodDays = parsePeriodDays(values.days);
  } catch (err) {
    if (err instanceof CommandUsageError) throw new DigestCliUsageError(err.message.replace(/`/g, ''));
    throw err;
  }
  const db = await openDb();
  const now = io.now();
  const subscription = await createSubscription(db, {
    channelId: values.channel,
    journeyQuery: values.journey,
    schedule: values.schedule,
    tz: values.tz ?? config.DEFAULT_TZ,
    options,
    createdBy: values['created-by'] ?? `cli:${safeUserName()}`,
    now,
  });
  const [view] = await subscriptionViews(db, [subscription], now);
  write(io.stdout, `Added digest #${subscription.id}: ${plain(view!.what)}, ${subscription.schedule} (${subscription.tz}), last ${subscription.periodDays} days, in channel ${subscription.channelId}. Next post: ${view!.next ?? 'never'}.`);
  return 0;
}

async function listCommand(args: string[], io: DigestCliIo, openDb: () => Promise<Db>): Promise<number> {
  const { values, positionals } = parse(args, { channel: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length > 0) throw new DigestCliUsageError(`unexpected argument "${positionals[0]}"`);
  const db = await openDb();
  const subscriptions = await listSubscriptions(db, values.channel);
  const views = await subscriptionViews(db, subscriptions, io.now());
  if (values.json) {
    write(
      io.stdout,
      JSON.stringify(
        subscriptions.map((s, i) => ({
          id: s.id,
          channel_id: s.channelId,
          journey_id: s.journeyId,
          schedule: s.schedule,
          cron: s.cron,
          tz: s.tz,
          period_days: s.periodDays,
          thresholds: s.thresholds,
          created_by: s.createdBy,
          created_at: s.createdAt.toISOString(),
          next: views[i]?.next ?? null,
        })),
      ),
    );
  } else if (subscriptions.length === 0) {
    write(io.stdout, 'No digests yet. Add one: npm run cli -- digest add --channel C123 --journey welcome --schedule "daily 09:00"');
  } else {
    subscriptions.forEach((s, i) =>
      write(io.stdout, `#${s.id}  ${s.channelId}  ${plain(views[i]!.what)}  ${s.schedule} (${s.tz})  last ${s.periodDays} days  next: ${views[i]!.next ?? 'never'}`),
    );
  }
  return 0;
}

async function removeCommand(args: string[], io: DigestCliIo, openDb: () => Promise<Db>): Promise<number> {
  const { positionals } = parse(args, {});
  const [idText, extra] = positionals;
  const id = Number(idText);
  if (idText === undefined || extra !== undefined || !Number.isSafeInteger(id) || id < 1) throw new DigestCliUsageError('digest remove needs one digest number');
  const db = await openDb();
  const removed = await removeSubscription(db, id);
  if (removed === null) {
    write(io.stderr, `There is no digest #${id}.`);
    return 1;
  }
  write(io.stdout, `Removed digest #${id} (${removed.schedule}, ${removed.tz}, channel ${removed.channelId}).`);
  return 0;
}

async function runDueCommand(args: string[], io: DigestCliIo, openDb: () => Promise<Db>): Promise<number> {
  const { values, positionals } = parse(args, { now: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length > 0) throw new DigestCliUsageError(`unexpected argument "${positionals[0]}"`);
  let now = io.now();
  if (values.now !== undefined) {
    const parsed = parseTimestamp(values.now);
    if (!parsed.ok) throw new DigestCliUsageError(`--now: ${parsed.reason}`);
    now = new Date(parsed.ms);
  }
  const config = loadConfig(io.env);
  if (!config.SLACK_BOT_TOKEN) {
    write(io.stderr, 'digest run-due posts to Slack: set SLACK_BOT_TOKEN (and SLACK_API_URL for another Web API base URL).');
    return 1;
  }
  const db = await openDb();
  const log = createLogger(config.LOG_LEVEL, (line) => write(io.stderr, line));
  const summary = await runDueDigests({
    db,
    slack: createDigestSlackClient(config),
    now,
    charts: chartSettingsFrom(config),
    campaignReportUrl: config.CAMPAIGN_REPORT_URL ?? null,
    log,
  });
  if (values.json) {
    const run = (r: (typeof summary.posted)[number]) => ({
      subscription_id: r.subscriptionId,
      channel_id: r.channelId,
      scheduled_for: r.scheduledFor.toISOString(),
      late: r.late,
      attempt: r.attempt,
      ts: r.ts ?? null,
      error: r.error ?? null,
      next_attempt_at: r.nextAttemptAt?.toISOString() ?? null,
    });
    write(io.stdout, JSON.stringify({ posted: summary.posted.map(run), failed: summary.failed.map(run), skipped: summary.skipped }));
  } else {
    write(io.stdout, `Digests: ${summary.posted.length} posted, ${summary.failed.length} failed, ${summary.skipped} skipped (as of ${now.toISOString()}).`);
    for (const r of summary.posted) write(io.stdout, `  posted #${r.subscriptionId} due ${r.scheduledFor.toISOString()}${r.late ? ' (late)' : ''} to ${r.channelId}`);
    for (const r of summary.failed) {
      write(io.stdout, `  failed #${r.subscriptionId} due ${r.scheduledFor.toISOString()}: ${r.error}; ${r.nextAttemptAt ? `retry after ${r.nextAttemptAt.toISOString()}` : 'gave up'}`);
    }
  }
  return summary.failed.length > 0 ? 1 : 0;
}

/** mrkdwn from the shared subscription view, as plain text for a terminal. */
function plain(mrkdwn: string): string {
  return mrkdwn.replace(/\*/g, '').replace(/`/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
