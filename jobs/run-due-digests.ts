// The digest job: posts every digest run that is due and not yet posted, once. The in-app scheduler (node-cron)
// and `npm run cli -- digest run-due` only call runDueDigests; tests call it with their own clock.
import { slackErrorCode, type PostOnceOptions } from '../commands/post-once.js';
import { hostname } from 'node:os';
import type { WebClient } from '@slack/web-api';
import type { Db } from '../db/client.js';
import {
  claimNewRun,
  latestRecordedRuns,
  listSubscriptions,
  markRunFailed,
  markRunPosted,
  reclaimRun,
  recordParentPosted,
  recordSkippedRuns,
  recordThreadProgress,
  retryableRuns,
  skipSupersededRuns,
  type DigestRun,
  type DigestSubscription,
} from '../db/digest-store.js';
import { computeDigest } from '../reports/digest.js';
import { isValidTimeZone } from '../reports/periods.js';
import { compileSchedule, mostRecentRun, runsBetween } from '../reports/schedules.js';
import { postDigest, type ChartSettings } from './post-digest.js';

/** A claim older than this is taken to be abandoned (its runner died mid-post) and may be claimed again. */
export const CLAIM_LEASE_MS = 10 * 60 * 1000;
/** A run posted more than this after its time says it is late. */
export const LATE_AFTER_MS = 15 * 60 * 1000;
/** Retries wait 1, 2, 4 … minutes, at most an hour, and stop after this many attempts. */
export const RETRY_BASE_MS = 60 * 1000;
export const RETRY_MAX_MS = 60 * 60 * 1000;
export const MAX_ATTEMPTS = 12;
/** Missed runs recorded as skipped per subscription and call (a long outage of an hourly digest stays bounded). */
export const MAX_SKIPPED_RECORDED = 1000;

export interface DigestJobLog {
  info(message: string): void;
  warn(message: string, err?: unknown): void;
  error(message: string, err?: unknown): void;
}

export interface RunDueDigestsOptions {
  db: Db;
  slack: WebClient;
  /** The clock: what is due is decided against it. */
  now: Date;
  charts: ChartSettings;
  campaignReportUrl?: string | null;
  /** Names this runner in claimed rows (host:pid by default). */
  runner?: string;
  log?: DigestJobLog;
  /** Passed to postDigest (tests make waits instant). */
  sleep?: (ms: number) => Promise<void>;
  /** Passed to postDigest: how each post is tried within one run (the run itself is retried with backoff). */
  postOnce?: PostOnceOptions;
}

export interface RunOutcome {
  runId: number;
  subscriptionId: number;
  channelId: string;
  scheduledFor: Date;
  late: boolean;
  attempt: number;
  ts?: string;
  error?: string;
  nextAttemptAt?: Date | null;
}

export interface RunDueDigestsSummary {
  posted: RunOutcome[];
  failed: RunOutcome[];
  /** Missed or superseded runs recorded as skipped by this call. */
  skipped: number;
}

const QUIET: DigestJobLog = { info: () => {}, warn: () => {}, error: () => {} };

/** When a run that failed on its `attempts`-th attempt is tried again; null once it has had MAX_ATTEMPTS. */
export function nextAttemptAt(attempts: number, now: Date): Date | null {
  if (attempts >= MAX_ATTEMPTS) return null;
  const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + wait);
}

export async function runDueDigests(options: RunDueDigestsOptions): Promise<RunDueDigestsSummary> {
  const { db, now } = options;
  const log = options.log ?? QUIET;
  const runner = options.runner ?? `${hostname()}:${process.pid}`;
  const summary: RunDueDigestsSummary = { posted: [], failed: [], skipped: 0 };
  const subscriptions = await listSubscriptions(db);
  const byId = new Map(subscriptions.map((s) => [s.id, s]));
  const recorded = await latestRecordedRuns(db);
  const work: Array<{ run: DigestRun; subscription: DigestSubscription }> = [];

  for (const subscription of subscriptions) {
    const claimed = await claimLatestRun(options, subscription, recorded.get(subscription.id), runner, log, summary);
    if (claimed) work.push({ run: claimed, subscription });
  }
  // Runs claimed above are leased to this runner, so they are not picked up again here.
  for (const run of await retryableRuns(db, now)) {
    const subscription = byId.get(run.subscriptionId);
    if (!subscription) continue;
    const late = now.getTime() - run.scheduledFor.getTime() > LATE_AFTER_MS;
    const again = await reclaimRun(db, run, { runner, now, leaseMs: CLAIM_LEASE_MS, late });
    if (again) work.push({ run: again, subscription });
  }
  for (const { run, subscription } of work) await attempt(options, run, subscription, log, summary);
  return summary;
}

/**
 * Claims the subscription's most recent run if nobody has recorded it yet. Runs missed before it (the app was
 * down) are recorded as skipped, and older runs still waiting for a retry give way to it.
 */
async function claimLatestRun(
  options: RunDueDigestsOptions,
  subscription: DigestSubscription,
  lastRecorded: Date | undefined,
  runner: string,
  log: DigestJobLog,
  summary: RunDueDigestsSummary,
): Promise<DigestRun | null> {
  const { db, now } = options;
  let schedule;
  try {
    schedule = compileSchedule(subscription.cron);
  } catch (err) {
    log.error(`digest #${subscription.id} has a schedule that no longer parses ("${subscription.cron}")`, err);
    return null;
  }
  if (!isValidTimeZone(subscription.tz)) {
    log.error(`digest #${subscription.id} has an unknown time zone "${subscription.tz}"`);
    return null;
  }
  const latest = mostRecentRun(schedule, subscription.tz, now);
  // Runs due before the subscription existed are not owed to anyone.
  if (latest === null || latest <= subscription.createdAt) return null;
  if (lastRecorded !== undefined && lastRecorded >= latest) return null;
  const late = now.getTime() - latest.getTime() > LATE_AFTER_MS;
  const run = await claimNewRun(db, { subscriptionId: subscription.id, scheduledFor: latest, late, runner, now, leaseMs: CLAIM_LEASE_MS });
  if (run === null) return null;
  // Only the runner that won the claim records what it replaces, so the counts are not doubled either.
  const after = lastRecorded !== undefined && lastRecorded > subscription.createdAt ? lastRecorded : subscription.createdAt;
  const missed = runsBetween(schedule, subscription.tz, after, latest, MAX_SKIPPED_RECORDED);
  summary.skipped += await recordSkippedRuns(db, subscription.id, missed, 'missed while no runner was running; the most recent run was posted instead', now);
  summary.skipped += await skipSupersededRuns(db, subscription.id, latest, now, 'a later run of this digest came due before this one could be posted');
  if (missed.length > 0) log.info(`digest #${subscription.id}: ${missed.length} missed run(s) skipped, posting the one due ${latest.toISOString()}`);
  return run;
}

async function attempt(
  options: RunDueDigestsOptions,
  run: DigestRun,
  subscription: DigestSubscription,
  log: DigestJobLog,
  summary: RunDueDigestsSummary,
): Promise<void> {
  const { db, now } = options;
  const outcome: RunOutcome = {
    runId: run.id,
    subscriptionId: subscription.id,
    channelId: subscription.channelId,
    scheduledFor: run.scheduledFor,
    late: run.late,
    attempt: run.attempts,
  };
  try {
    const digest = await computeDigest(db, {
      journeyId: subscription.journeyId,
      at: run.scheduledFor,
      tz: subscription.tz,
      periodDays: subscription.periodDays,
      thresholds: subscription.thresholds ?? null,
    });
    const posted = await postDigest({
      client: options.slack,
      channel: subscription.channelId,
      digest,
      origin: { kind: 'scheduled', subscriptionId: subscription.id, schedule: subscription.schedule, scheduledFor: run.scheduledFor, late: run.late },
      charts: options.charts,
      campaignReportUrl: options.campaignReportUrl ?? null,
      resume: { parentTs: run.postedTs, threadPartsPosted: run.threadPartsPosted },
      onParentPosted: (ts) => recordParentPosted(db, run.id, ts),
      onThreadPartPosted: (n) => recordThreadProgress(db, run.id, n),
      sleep: options.sleep,
      postOnce: options.postOnce,
    });
    await markRunPosted(db, run.id, now);
    summary.posted.push({ ...outcome, ts: posted.ts });
    log.info(`digest #${subscription.id} posted to ${subscription.channelId} (run due ${run.scheduledFor.toISOString()}${run.late ? ', late' : ''})`);
  } catch (err) {
    const next = nextAttemptAt(run.attempts, now);
    const message = describeError(err);
    await markRunFailed(db, run.id, next, message);
    summary.failed.push({ ...outcome, error: message, nextAttemptAt: next });
    if (next === null) log.error(`digest #${subscription.id} gave up after ${run.attempts} attempts (run due ${run.scheduledFor.toISOString()})`, err);
    else log.warn(`digest #${subscription.id} failed (attempt ${run.attempts}); retrying at ${next.toISOString()}`, err);
  }
}

/** Why a post failed, for the run's record and the CLI: Slack's error code, or why Slack could not be reached. */
export function describeError(err: unknown): string {
  const code = slackErrorCode(err);
  const text = err instanceof Error ? err.message : String(err);
  const said = code && !text.includes(code) ? `${code}: ${text}` : text;
  // "A request error occurred: fetch failed" hides its reason in the causes (@slack/web-api's `original`, fetch's `cause`).
  const root = rootCause(err);
  if (root === null) return said;
  const reached = 'Slack could not be reached; check the network, and SLACK_API_URL if it is set';
  if (typeof root.code === 'string' && /^E[A-Z_]+$/.test(root.code)) {
    const where = root.address ? ` ${root.address}${root.port ? `:${root.port}` : ''}` : root.hostname ? ` ${root.hostname}` : '';
    return `${said} (${root.code}${where}): ${reached}`;
  }
  return root.message && !said.includes(root.message) ? `${said} (${root.message}): ${reached}` : said;
}

interface Cause {
  code?: unknown;
  message?: string;
  cause?: unknown;
  original?: unknown;
  address?: string;
  port?: number;
  hostname?: string;
}

/** The innermost error under a Web API request error (its `original`, then each `cause`), or null if it has none. */
function rootCause(err: unknown): Cause | null {
  let at = err as Cause | null;
  let found: Cause | null = null;
  for (let depth = 0; depth < 6 && at !== null && typeof at === 'object'; depth++) {
    const next = (at.original ?? at.cause) as Cause | undefined;
    if (next === undefined || next === null || typeof next !== 'object') break;
    found = at = next;
  }
  return found;
}
