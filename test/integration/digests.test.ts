// Scheduled digests on a real database against a fake Slack: due runs post once (also with concurrent runners),
// failed posts are retried and posted once, downtime posts one late run, and the digest holds the right numbers.
import path from 'node:path';
import { WebClient } from '@slack/web-api';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../db/client.js';
import { addSubscription, claimNewRun, type DigestSubscription } from '../../db/digest-store.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { digestRuns } from '../../db/schema.js';
import type { ChartSettings } from '../../jobs/post-digest.js';
import { runDueDigests, type RunDueDigestsSummary } from '../../jobs/run-due-digests.js';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import { computeDigest } from '../../reports/digest.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { parseSchedule } from '../../reports/schedules.js';
import { loadConfig } from '../../src/config.js';
import { startDigestScheduler } from '../../src/digest-scheduler.js';
import { createLogger } from '../../src/logger.js';
import type { KnownBlock } from '@slack/types';
import { startFakeSlack, type FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';
import { openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';
import { fixturesDir, workedReport } from '../support/worked-example.js';

const CHARTS: ChartSettings = { renderer: 'quickchart', quickchartUrl: 'https://charts.example.test' };

let db: TestDb;
let slack: FakeSlack;
let client: WebClient;

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixturesDir, 'events.ndjson')), { source: 'fixture' });
  slack = await startFakeSlack();
  // No in-call retries: a failed call must show up as a failed attempt, retried by the job's own backoff.
  client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
});

afterAll(async () => {
  await slack?.close();
  await db?.close();
});

const at = (iso: string) => new Date(iso);
const minutes = (base: string, n: number) => new Date(at(base).getTime() + n * 60_000);

function run(now: Date, options: { db?: Db; charts?: ChartSettings } = {}): Promise<RunDueDigestsSummary> {
  // One try per post and run: these tests are about the run-level retry and its backoff (post-once has its own tests).
  return runDueDigests({ db: options.db ?? db.db, slack: client, now, charts: options.charts ?? CHARTS, sleep: async () => {}, postOnce: { attempts: 1 } });
}

async function subscribe(channelId: string, schedule: string, options: { tz?: string; journeyId?: string | null; createdAt: string; periodDays?: number }): Promise<DigestSubscription> {
  const parsed = parseSchedule(schedule);
  return addSubscription(db.db, {
    channelId,
    journeyId: options.journeyId === undefined ? 'welcome' : options.journeyId,
    schedule: parsed.text,
    cron: parsed.cron,
    tz: options.tz ?? 'UTC',
    periodDays: options.periodDays ?? 7,
    createdBy: 'U_TEST',
    createdAt: at(options.createdAt),
  });
}

/** Digest posts (not thread replies) in a channel. */
function parentPosts(channel: string): RecordedCall[] {
  return slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel && c.args.thread_ts === undefined);
}

function threadPosts(channel: string, ts: unknown): RecordedCall[] {
  return slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel && c.args.thread_ts === ts);
}

function text(call: RecordedCall): string {
  const blocks = call.args.blocks as KnownBlock[];
  return renderMessageAsText({ text: String(call.args.text), blocks, thread: [] });
}

async function runsFor(subscriptionId: number) {
  const rows = await db.db.select().from(digestRuns).where(eq(digestRuns.subscriptionId, subscriptionId));
  return rows.sort((a, b) => a.scheduledFor.getTime() - b.scheduledFor.getTime());
}

describe('a due digest', () => {
  it('is posted once, with the week’s numbers, the chart, the flags and the step table in its thread', async () => {
    const sub = await subscribe('C_DUE', 'daily 09:00', { createdAt: '2026-11-07T12:00:00Z' });
    // Sunday 8 Nov 2026 09:00 UTC is due: the last 7 full days are 1–7 November, the whole worked example
    const first = await run(at('2026-11-08T09:00:30Z'));
    expect(first.posted.map((r) => r.subscriptionId)).toContain(sub.id);
    const [post] = parentPosts('C_DUE');
    expect(post).toBeDefined();
    const body = text(post!);
    expect(body).toContain('Last 7 full days: 1 Nov 2026 – 7 Nov 2026 (UTC)');
    // every entry of the worked example is in this week and none in the week before
    expect(body).toContain('Entries: 11 (+11 from 0)');
    expect(body).toContain('Conversion rate: 66.7% (6 of 9 users), before: n/a');
    expect(body).toContain('⚠️ Welcome push: 33.3% of sends failed');
    const image = (post!.args.blocks as KnownBlock[]).find((b) => b.type === 'image');
    expect(image).toMatchObject({ image_url: expect.stringMatching(/^https:\/\/charts\.example\.test\/chart\?/) });
    const thread = threadPosts('C_DUE', post!.result?.ts);
    expect(thread).toHaveLength(1);
    expect(text(thread[0]!)).toContain('Welcome series — steps');

    // the same minute again, and later that day: nothing new
    await run(at('2026-11-08T09:00:45Z'));
    await run(at('2026-11-08T17:00:00Z'));
    expect(parentPosts('C_DUE')).toHaveLength(1);
    const runs = await runsFor(sub.id);
    expect(runs).toMatchObject([{ status: 'posted', attempts: 1, late: false, postedTs: post!.result?.ts, scheduledFor: at('2026-11-08T09:00:00Z') }]);
  });

  it('owes nothing for times before the subscription existed', async () => {
    await subscribe('C_NEW', 'daily 09:00', { createdAt: '2026-11-08T09:00:10Z' });
    await run(at('2026-11-08T12:00:00Z'));
    expect(parentPosts('C_NEW')).toHaveLength(0);
    await run(at('2026-11-09T09:00:00Z'));
    expect(parentPosts('C_NEW')).toHaveLength(1);
  });

  it('follows its own time zone', async () => {
    // weekly Monday 09:00 in Istanbul (UTC+3) is 06:00 UTC on Monday 9 November
    await subscribe('C_TZ', 'weekly mon 09:00', { tz: 'Europe/Istanbul', createdAt: '2026-11-08T00:00:00Z' });
    await run(at('2026-11-09T05:59:00Z'));
    expect(parentPosts('C_TZ')).toHaveLength(0);
    await run(at('2026-11-09T06:00:00Z'));
    expect(parentPosts('C_TZ')).toHaveLength(1);
    expect(text(parentPosts('C_TZ')[0]!)).toContain('Last 7 full days: 2 Nov 2026 – 8 Nov 2026 (Europe/Istanbul)');
  });
});

describe('concurrent runners', () => {
  it('post each due run exactly once', async () => {
    const subs = [
      await subscribe('C_RACE_1', 'daily 09:00', { createdAt: '2026-11-01T00:00:00Z' }),
      await subscribe('C_RACE_2', 'weekdays 08:30', { tz: 'Europe/Berlin', createdAt: '2026-11-01T00:00:00Z' }),
      await subscribe('C_RACE_3', 'daily 07:00', { journeyId: null, tz: 'America/New_York', createdAt: '2026-11-01T00:00:00Z' }),
    ];
    // On Postgres a second connection pool stands for a second copy of the app; PGlite has one connection.
    const second = testDatabaseUrl ? await createDb(db.config) : null;
    try {
      const now = at('2026-11-10T14:00:00Z');
      const handles = [db.db, second?.db ?? db.db, db.db, second?.db ?? db.db];
      const summaries = await Promise.all(handles.map((h) => run(now, { db: h })));
      const posted = summaries.flatMap((s) => s.posted).filter((r) => subs.some((x) => x.id === r.subscriptionId));
      expect(posted).toHaveLength(3);
      for (const channel of ['C_RACE_1', 'C_RACE_2', 'C_RACE_3']) expect(parentPosts(channel)).toHaveLength(1);
      // and once more, all at once: nothing left to post
      await Promise.all(handles.map((h) => run(minutes('2026-11-10T14:00:00Z', 1), { db: h })));
      for (const channel of ['C_RACE_1', 'C_RACE_2', 'C_RACE_3']) expect(parentPosts(channel)).toHaveLength(1);
      for (const sub of subs) expect((await runsFor(sub.id)).filter((r) => r.status === 'posted')).toHaveLength(1);
    } finally {
      await second?.close();
    }
  });
});

describe('a failed Slack call', () => {
  it.each([
    { how: 'HTTP 500', channel: 'C_FAIL_HTTP', failure: { status: 500 } },
    { how: 'a Slack error', channel: 'C_FAIL_API', failure: { error: 'internal_error' } },
  ])('($how) is retried after a backoff and posted once', async ({ channel, failure }) => {
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-12T08:00:00Z' });
    const due = '2026-11-12T09:00:00Z';
    slack.fail('chat.postMessage', 1, { ...failure, when: (args) => args.channel === channel });
    const first = await run(at(due));
    expect(first.failed.find((r) => r.subscriptionId === sub.id)).toMatchObject({ attempt: 1, nextAttemptAt: minutes(due, 1) });
    expect(parentPosts(channel)).toHaveLength(0);
    expect(await runsFor(sub.id)).toMatchObject([{ status: 'failed', attempts: 1, nextAttemptAt: minutes(due, 1) }]);

    // before the backoff has passed: not yet
    await run(minutes(due, 0.5));
    expect(parentPosts(channel)).toHaveLength(0);
    // after it: posted, once
    const retry = await run(minutes(due, 1));
    expect(retry.posted.find((r) => r.subscriptionId === sub.id)).toMatchObject({ attempt: 2 });
    await run(minutes(due, 5));
    await run(minutes(due, 60));
    expect(parentPosts(channel)).toHaveLength(1);
    expect(await runsFor(sub.id)).toMatchObject([{ status: 'posted', attempts: 2 }]);
  });

  it('backs off longer on each failure', async () => {
    const channel = 'C_FAIL_TWICE';
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-12T08:00:00Z' });
    const due = '2026-11-12T09:00:00Z';
    slack.fail('chat.postMessage', 2, { status: 503, when: (args) => args.channel === channel });
    await run(at(due));
    const second = await run(minutes(due, 1));
    // the second failure waits 2 minutes
    expect(second.failed.find((r) => r.subscriptionId === sub.id)).toMatchObject({ attempt: 2, nextAttemptAt: minutes(due, 3) });
    await run(minutes(due, 2));
    expect(parentPosts(channel)).toHaveLength(0);
    await run(minutes(due, 3));
    expect(parentPosts(channel)).toHaveLength(1);
  });

  it('in the thread continues the thread on retry without posting the digest again', async () => {
    const channel = 'C_FAIL_THREAD';
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-12T08:00:00Z' });
    const due = '2026-11-12T09:00:00Z';
    slack.fail('chat.postMessage', 1, { status: 500, when: (args) => args.channel === channel && args.thread_ts !== undefined });
    await run(at(due));
    expect(parentPosts(channel)).toHaveLength(1);
    const ts = parentPosts(channel)[0]!.result?.ts;
    expect(threadPosts(channel, ts)).toHaveLength(0);
    expect(await runsFor(sub.id)).toMatchObject([{ status: 'failed', postedTs: ts, threadPartsPosted: 0 }]);
    await run(minutes(due, 1));
    expect(parentPosts(channel)).toHaveLength(1);
    expect(threadPosts(channel, ts)).toHaveLength(1);
    expect(await runsFor(sub.id)).toMatchObject([{ status: 'posted', threadPartsPosted: 1 }]);
  });

  it('left claimed by a runner that died is taken over once its lease has passed', async () => {
    const channel = 'C_CRASHED';
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-12T08:00:00Z' });
    const due = '2026-11-12T09:00:00Z';
    // a runner claimed the run at 09:00 and vanished without posting
    await claimNewRun(db.db, { subscriptionId: sub.id, scheduledFor: at(due), late: false, runner: 'dead:1', now: at(due), leaseMs: 10 * 60_000 });
    await run(minutes(due, 5));
    expect(parentPosts(channel)).toHaveLength(0);
    await run(minutes(due, 11));
    expect(parentPosts(channel)).toHaveLength(1);
    expect(await runsFor(sub.id)).toMatchObject([{ status: 'posted', attempts: 2 }]);
  });
});

describe('after downtime', () => {
  it('posts only the most recent missed run, marked late, and records the older ones as skipped', async () => {
    const channel = 'C_DOWN';
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-01T00:00:00Z' });
    await run(at('2026-11-01T09:00:05Z'));
    expect(parentPosts(channel)).toHaveLength(1);
    // down from 1 November 10:00 until 5 November 15:00
    const back = await run(at('2026-11-05T15:00:00Z'));
    expect(back.posted.filter((r) => r.subscriptionId === sub.id)).toMatchObject([{ late: true, scheduledFor: at('2026-11-05T09:00:00Z') }]);
    expect(parentPosts(channel)).toHaveLength(2);
    const late = text(parentPosts(channel)[1]!);
    expect(late).toContain('Late: this digest was due Thu 5 Nov 2026 09:00 (UTC)');
    // the late run covers the 7 days before its own time, not before now
    expect(late).toContain('Last 7 full days: 29 Oct 2026 – 4 Nov 2026 (UTC)');
    expect((await runsFor(sub.id)).map((r) => [r.scheduledFor.toISOString().slice(0, 10), r.status, r.late])).toEqual([
      ['2026-11-01', 'posted', false],
      ['2026-11-02', 'skipped', false],
      ['2026-11-03', 'skipped', false],
      ['2026-11-04', 'skipped', false],
      ['2026-11-05', 'posted', true],
    ]);
    await run(at('2026-11-05T15:01:00Z'));
    expect(parentPosts(channel)).toHaveLength(2);
  });

  it('skips a run still failing when the next one comes due, and posts the newer one', async () => {
    const channel = 'C_SUPERSEDED';
    const sub = await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-12T08:00:00Z' });
    slack.fail('chat.postMessage', 1, { status: 500, when: (args) => args.channel === channel });
    await run(at('2026-11-12T09:00:00Z'));
    // no runner until the next day's run is due
    await run(at('2026-11-13T09:00:00Z'));
    expect(parentPosts(channel)).toHaveLength(1);
    expect((await runsFor(sub.id)).map((r) => [r.scheduledFor.toISOString().slice(0, 10), r.status])).toEqual([
      ['2026-11-12', 'skipped'],
      ['2026-11-13', 'posted'],
    ]);
  });
});

describe('the local chart renderer', () => {
  it('uploads a PNG to Slack and shows it in the digest', async () => {
    const channel = 'C_LOCAL';
    await subscribe(channel, 'daily 09:00', { createdAt: '2026-11-07T00:00:00Z' });
    await run(at('2026-11-08T09:00:00Z'), { charts: { renderer: 'local', quickchartUrl: 'https://unused.example' } });
    const [post] = parentPosts(channel);
    const image = (post!.args.blocks as KnownBlock[]).find((b) => b.type === 'image') as { slack_file?: { id: string } } | undefined;
    const fileId = image?.slack_file?.id;
    expect(fileId).toBeTruthy();
    const png = slack.uploads.get(fileId!)!;
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const complete = slack.calls.find((c) => c.method === 'files.completeUploadExternal' && JSON.stringify(c.args.files).includes(fileId!));
    // uploaded privately: the digest's image block is what shows it in the channel
    expect(complete?.args.channel_id).toBeUndefined();
  });
});

describe('digest content', () => {
  it('compares the period with the one before, all numbers from the metrics engine', async () => {
    // one day, 2 November (UTC), against 1 November — the fixture's expected report for that day
    const digest = await computeDigest(db.db, { journeyId: 'welcome', at: at('2026-11-03T09:00:00Z'), tz: 'UTC', periodDays: 1, thresholds: null });
    const journey = (await loadJourney(db.db, 'welcome'))!;
    const [item] = digest.journeys;
    expect(digest.period).toEqual({ from: at('2026-11-02T00:00:00Z'), to: at('2026-11-03T00:00:00Z') });
    expect(item!.previous).toEqual(workedReport('period_2026-11-01'));
    expect(item!.report).toEqual(await computeReport(db.db, journey, digest.period));
  });

  it('reads the period’s days in the digest’s zone and keeps them whole across a daylight-saving change', async () => {
    // Monday 2 November 2026 09:00 in New York: the 7 days are 26 Oct – 1 Nov local, and 1 Nov is 25 hours long
    const digest = await computeDigest(db.db, { journeyId: null, at: at('2026-11-02T14:00:00Z'), tz: 'America/New_York', periodDays: 7, thresholds: null });
    expect(digest.period).toEqual({ from: at('2026-10-26T04:00:00Z'), to: at('2026-11-02T05:00:00Z') });
    expect(digest.previousPeriod).toEqual({ from: at('2026-10-19T04:00:00Z'), to: at('2026-10-26T04:00:00Z') });
    expect(digest.periodLabel).toBe('26 Oct 2026 – 1 Nov 2026 (America/New_York)');
  });

  it('applies a digest’s own thresholds on top of the journey’s', async () => {
    const digest = await computeDigest(db.db, { journeyId: 'welcome', at: at('2026-11-08T09:00:00Z'), tz: 'UTC', periodDays: 7, thresholds: { failure: 50 } });
    const kinds = digest.journeys[0]!.flags.map((f) => f.kind);
    // 33.3% failed is under 50%: only the 75% drop remains
    expect(kinds).toEqual(['drop']);
  });

  it('builds a post within Slack limits', async () => {
    const digest = await computeDigest(db.db, { journeyId: null, at: at('2026-11-08T09:00:00Z'), tz: 'Europe/Istanbul', periodDays: 7, thresholds: null });
    const { buildDigestMessage } = await import('../../reports/blocks/digest-blocks.js');
    assertWithinSlackLimits(
      buildDigestMessage({
        digest,
        charts: new Map(),
        origin: { kind: 'now', userId: 'U1' },
        formatTime: (d) => d.toISOString(),
        campaignReportUrl: 'https://reports.example/{campaign_id}',
      }),
    );
  });
});

describe('the in-app scheduler', () => {
  it('runs the digest job as soon as it starts (catching up), and stops cleanly', async () => {
    await subscribe('C_SCHEDULER', 'daily 09:00', { createdAt: '2026-11-20T00:00:00Z' });
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret', SLACK_API_URL: slack.apiUrl, QUICKCHART_URL: CHARTS.quickchartUrl });
    const scheduler = startDigestScheduler({ db: db.db, config, now: () => at('2026-11-21T09:00:10Z'), log: createLogger('error', () => {}), client });
    try {
      await slack.waitFor(() => parentPosts('C_SCHEDULER').length === 1);
    } finally {
      await scheduler.stop();
    }
    expect(parentPosts('C_SCHEDULER')).toHaveLength(1);
  });
});
