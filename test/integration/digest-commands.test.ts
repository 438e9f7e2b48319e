// /journey digest add|list|remove|now and /journey thresholds: what people type and what they get, on a real database,
// and `digest now` end to end through the Bolt app against a fake Slack.
import path from 'node:path';
import type { KnownBlock } from '@slack/types';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandAnswer, CommandDeps } from '../../commands/command-types.js';
import { answerJourneyCommand } from '../../commands/journey-command.js';
import { listSubscriptions } from '../../db/digest-store.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { digestSubscriptions, journeys } from '../../db/schema.js';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import { startSlackApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { loopbackAppEnv, signedRequest, slashCommandBody, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';
import { openTestDb, type TestDb } from '../support/test-db.js';
import { fixturesDir } from '../support/worked-example.js';

const NOW = new Date('2026-11-08T12:00:00Z');
const SECRET = 'digest-test-secret';

let db: TestDb;
let deps: CommandDeps;

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixturesDir, 'events.ndjson')), { source: 'fixture' });
  deps = { db: db.db, now: () => NOW, campaignReportUrl: undefined };
});

afterAll(async () => {
  await db?.close();
});

async function ask(text: string, asker: { channelId?: string; userId?: string; tz?: string } = {}): Promise<CommandAnswer> {
  const { answer } = await answerJourneyCommand(deps, { userId: asker.userId ?? 'U_ASKER', channelId: asker.channelId ?? 'C_TEAM', tz: asker.tz ?? 'Europe/Istanbul' }, text);
  return answer;
}

function said(answer: CommandAnswer): { visibility: string; text: string } {
  if (answer.kind !== 'message') throw new Error(`expected a message, got ${answer.kind}`);
  assertWithinSlackLimits(answer.message);
  return { visibility: answer.visibility, text: renderMessageAsText(answer.message) };
}

describe('/journey digest add', () => {
  it('subscribes this channel in the asker’s time zone and says when it posts next', async () => {
    const answer = said(await ask('digest add welcome daily 09:00'));
    expect(answer.visibility).toBe('in_channel');
    expect(answer.text).toMatch(/<@U_ASKER> added digest #\d+: Welcome series \(`welcome`\), daily 09:00 \(Europe\/Istanbul\), covering the last 7 full days\. Next post: Mon 9 Nov 2026 09:00 \(Europe\/Istanbul\)\./);
    const [row] = await listSubscriptions(db.db, 'C_TEAM');
    expect(row).toMatchObject({ journeyId: 'welcome', schedule: 'daily 09:00', cron: '0 9 * * *', tz: 'Europe/Istanbul', periodDays: 7, thresholds: null, createdBy: 'U_ASKER', createdAt: NOW });
  });

  it.each([
    { text: 'digest add all "0 9 * * 1" Europe/Berlin days=14 drop=30', want: { journeyId: null, schedule: '0 9 * * 1', cron: '0 9 * * 1', tz: 'Europe/Berlin', periodDays: 14, thresholds: { drop: 30 } } },
    { text: 'digest add "Welcome series" weekly mon 09:00 America/New_York', want: { journeyId: 'welcome', schedule: 'weekly mon 09:00', cron: '0 9 * * 1', tz: 'America/New_York' } },
    { text: 'digest add WELC weekdays 08:30', want: { journeyId: 'welcome', schedule: 'weekdays 08:30', cron: '30 8 * * 1-5', tz: 'Europe/Istanbul' } },
  ])('reads "$text"', async ({ text, want }) => {
    const answer = said(await ask(text, { channelId: 'C_VARIANTS' }));
    expect(answer.text).toContain('added digest');
    const rows = await listSubscriptions(db.db, 'C_VARIANTS');
    expect(rows.at(-1)).toMatchObject(want);
  });

  it.each([
    { text: 'digest add welcome daily 25:00', want: '"25:00" is not a time of day' },
    { text: 'digest add welcome "*/5 * * * *"', want: 'runs more than once an hour' },
    { text: 'digest add wellcome daily 09:00', want: 'welcome' },
    { text: 'digest add welcome', want: 'When should it post?' },
    { text: 'digest add', want: 'Which journey (or `all`)?' },
    { text: 'digest add welcome daily 09:00 days=0', want: 'days must be a whole number from 1 to 366' },
    { text: 'digest add welcome daily 09:00 drop=140', want: 'between 0 and 100' },
    { text: 'digest', want: 'What about digests?' },
    { text: 'digest subscribe welcome', want: '"subscribe" is not a digest command' },
  ])('answers "$text" only to the asker: $want', async ({ text, want }) => {
    const before = (await listSubscriptions(db.db)).length;
    const answer = said(await ask(text, { channelId: 'C_ERRORS' }));
    expect(answer.visibility).toBe('ephemeral');
    expect(answer.text).toContain(want);
    expect(await listSubscriptions(db.db)).toHaveLength(before);
  });
});

describe('/journey digest list and remove', () => {
  it('lists only this channel’s digests, to the asker', async () => {
    await ask('digest add welcome daily 10:00', { channelId: 'C_LIST' });
    await ask('digest add all weekly fri 16:00 UTC', { channelId: 'C_LIST', userId: 'U_OTHER' });
    await ask('digest add welcome daily 11:00', { channelId: 'C_ELSEWHERE' });
    const answer = said(await ask('digest list', { channelId: 'C_LIST' }));
    expect(answer.visibility).toBe('ephemeral');
    const lines = answer.text.split('\n').filter((l) => l.startsWith('#'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^#\d+ · Welcome series \(`welcome`\) · daily 10:00 \(Europe\/Istanbul\) · last 7 days · next: Mon 9 Nov 2026 10:00 \(Europe\/Istanbul\) · added by <@U_ASKER>$/);
    expect(lines[1]).toMatch(/^#\d+ · all journeys · weekly fri 16:00 \(UTC\) · last 7 days · next: Fri 13 Nov 2026 16:00 \(UTC\) · added by <@U_OTHER>$/);
    expect(said(await ask('digest list', { channelId: 'C_EMPTY' })).text).toContain('This channel has no digests');
  });

  it('removes one of this channel’s digests, and not another channel’s', async () => {
    const [mine] = await listSubscriptions(db.db, 'C_LIST');
    const [theirs] = await listSubscriptions(db.db, 'C_ELSEWHERE');
    const refused = said(await ask(`digest remove ${theirs!.id}`, { channelId: 'C_LIST' }));
    expect(refused).toMatchObject({ visibility: 'ephemeral', text: expect.stringContaining('belongs to another channel') });
    const removed = said(await ask(`digest remove #${mine!.id}`, { channelId: 'C_LIST' }));
    expect(removed.visibility).toBe('in_channel');
    expect(removed.text).toContain(`<@U_ASKER> removed digest #${mine!.id} · Welcome series`);
    expect((await listSubscriptions(db.db, 'C_LIST')).map((s) => s.id)).not.toContain(mine!.id);
    expect(await db.db.select().from(digestSubscriptions).where(eq(digestSubscriptions.id, theirs!.id))).toHaveLength(1);
    expect(said(await ask(`digest remove ${mine!.id}`, { channelId: 'C_LIST' })).text).toContain(`There is no digest #${mine!.id}`);
    expect(said(await ask('digest remove three', { channelId: 'C_LIST' })).text).toContain('Give its number');
  });
});

describe('/journey digest now', () => {
  it('answers with a digest of the last 7 full days in the asker’s zone, to post in this channel', async () => {
    const answer = await ask('digest now welcome', { tz: 'UTC' });
    if (answer.kind !== 'digest') throw new Error(`expected a digest, got ${answer.kind}`);
    expect(answer.origin).toEqual({ kind: 'now', userId: 'U_ASKER' });
    expect(answer.digest.periodLabel).toBe('1 Nov 2026 – 7 Nov 2026 (UTC)');
    expect(answer.digest.journeys.map((j) => j.report.overview.total_entries)).toEqual([11]);
  });
});

describe('/journey thresholds', () => {
  it('shows the thresholds with where each comes from', async () => {
    const answer = said(await ask('thresholds welcome'));
    expect(answer.visibility).toBe('ephemeral');
    expect(answer.text).toContain('Drop between steps above 40% `drop` — default');
    expect(answer.text).toContain('Click rate judged from sends of 100 `min_sent` — default');
  });

  it('sets them for the journey, and the steps answer flags with them', async () => {
    // the worked example's 6 → 4 users (33.3% drop) is under the default 40%, over 30%
    expect(said(await ask('steps welcome')).text).not.toContain('Welcome push → Welcome email');
    const answer = said(await ask('thresholds welcome drop=30 failure=5%'));
    expect(answer.visibility).toBe('in_channel');
    expect(answer.text).toContain('<@U_ASKER> changed the flag thresholds of Welcome series');
    expect(answer.text).toContain('Drop between steps above 30% `drop` — set for this journey (default 40%) ← changed');
    expect(answer.text).toContain('Failure rate above 5% `failure` — set for this journey (default 10%) ← changed');
    const [row] = await db.db.select({ thresholds: journeys.thresholds }).from(journeys).where(eq(journeys.journeyId, 'welcome'));
    expect(row!.thresholds).toEqual({ drop: 30, failure: 5 });
    expect(said(await ask('steps welcome')).text).toContain('⚠️ Welcome push → Welcome email: 33.3% drop (6 → 4 users; threshold 30%)');
    // a later change keeps the earlier ones
    said(await ask('thresholds welcome ctr=2'));
    const [after] = await db.db.select({ thresholds: journeys.thresholds }).from(journeys).where(eq(journeys.journeyId, 'welcome'));
    expect(after!.thresholds).toEqual({ drop: 30, failure: 5, ctr: 2 });
  });

  it('goes back to the defaults with reset, and refuses values it cannot use', async () => {
    expect(said(await ask('thresholds welcome drop=140')).text).toContain('drop is a percentage and must be between 0 and 100');
    expect(said(await ask('thresholds welcome speed=3')).text).toContain('Unknown threshold "speed"');
    expect(said(await ask('thresholds')).text).toContain('Which journey?');
    said(await ask('thresholds welcome reset'));
    const [row] = await db.db.select({ thresholds: journeys.thresholds }).from(journeys).where(eq(journeys.journeyId, 'welcome'));
    expect(row!.thresholds).toBeNull();
  });
});

describe('through Slack', () => {
  let slack: FakeSlack;
  let app: RunningApp;

  beforeAll(async () => {
    slack = await startFakeSlack({ userTz: 'UTC' });
    const config = loadConfig(
      loopbackAppEnv(slack, SECRET, { QUICKCHART_URL: 'https://charts.example.test', DIGEST_SCHEDULER: 'off' }),
    );
    app = await startSlackApp({ config, db: db.db, now: () => NOW, log: createLogger('error', () => {}) });
  });

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
  });

  async function command(text: string, id: string) {
    const signed = signedRequest(SECRET, slashCommandBody({ text, responseUrl: slack.responseUrl(id), channelId: 'C_SLACK' }));
    const res = await fetch(`http://127.0.0.1:${app.port}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).toBe(200);
  }

  it('`digest now` posts the digest with its chart in the channel and the step table in its thread', async () => {
    await command('digest now welcome', 'now');
    const parent = await slack.waitFor(() =>
      slack.calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'C_SLACK' && c.args.thread_ts === undefined),
    );
    const blocks = parent.args.blocks as KnownBlock[];
    const text = renderMessageAsText({ text: String(parent.args.text), blocks, thread: [] });
    expect(text).toContain('Journey digest: Welcome series');
    expect(text).toContain('Entries: 11 (+11 from 0)');
    expect(text).toContain('Asked for by <@U_ASKER>');
    expect(blocks.find((b) => b.type === 'image')).toMatchObject({ image_url: expect.stringMatching(/^https:\/\/charts\.example\.test\/chart\?/) });
    const reply = await slack.waitFor(() => slack.calls.find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === parent.result?.ts));
    expect(String(reply.args.text)).toContain('Welcome series: 3 steps');
  });

  it('`digest add` answers in the channel through the response URL', async () => {
    await command('digest add welcome daily 09:00', 'add');
    const body = await slack.waitFor(() => slack.responses.find((r) => r.id === 'add')?.body);
    expect(body.response_type).toBe('in_channel');
    expect(JSON.stringify(body)).toContain('daily 09:00 (UTC)');
    expect(await listSubscriptions(db.db, 'C_SLACK')).toHaveLength(1);
  });
});
