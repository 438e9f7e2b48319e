// Security at the Slack boundary, end to end with signed requests and a fake Slack: foreign workspaces and apps
// refused, exports permission-checked, rate-limited and audited, no internals in answers, Slack failures retried
// without double posts, and logs free of tokens, secrets and External IDs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_TEXT } from '../../commands/error-answers.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { exportAudit } from '../../db/schema.js';
import { startSlackApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, secretsOf } from '../../src/logger.js';
import { FOREIGN_REQUEST_TEXT } from '../../src/slack-guard.js';
import { signedRequest, slashCommandBody, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const BOT_TOKEN = 'xoxb-1111-2222-SECRETbottoken';
const SIGNING_SECRET = 'signing-SECRET-7f3a9c2e1b';
const INGEST_TOKEN = 'ingest-SECRET-5d8e2a7c4b9f0e1d';
/** External IDs that must never reach a log line: the worked example's and the ones ingested below. */
const externalIds = [
  ...new Set(
    readFileSync(path.join(fixtures, 'events.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { external_id?: string }).external_id)
      .filter((x): x is string => typeof x === 'string'),
  ),
  'PERSON-anna.smith@example.com',
  'PERSON-bob-0042',
];

let db: TestDb;
let slack: FakeSlack;
let app: RunningApp;
const logLines: string[] = [];

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
  slack = await startFakeSlack({ userTz: 'UTC' });
  const config = loadConfig({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    SLACK_TEAM_ID: 'T_FAKE',
    SLACK_APP_ID: 'A_APP',
    INGEST_TOKEN,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    EXPORT_ALLOWED_USERS: 'U_ASKER,U_LIMITED,U_RETRY',
    EXPORT_ALLOWED_CHANNELS: 'C_MARKETING',
    EXPORT_RATE_LIMIT: '2',
    SLACK_API_TIMEOUT_MS: '700',
    DIGEST_SCHEDULER: 'off',
  });
  const log = createLogger('debug', (l) => logLines.push(l), { secrets: secretsOf(config) });
  app = await startSlackApp({ config, db: db.db, now: () => new Date(), log });
});

afterAll(async () => {
  await app?.stop();
  await slack?.close();
  await db?.close();
});

async function post(body: string, headers: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${app.port}/slack/events`, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

async function command(text: string, id: string, fields: { userId?: string; channelId?: string; teamId?: string; appId?: string } = {}) {
  const signed = signedRequest(SIGNING_SECRET, slashCommandBody({ text, responseUrl: slack.responseUrl(id), ...fields }));
  return post(signed.body, signed.headers);
}

const answerOf = (id: string) => slack.waitFor(() => slack.responses.find((r) => r.id === id)?.body);
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('requests from another workspace or app', () => {
  it('answers a slash command from another workspace with a refusal only to the asker, and does nothing', async () => {
    const before = slack.calls.length;
    const res = await command('export welcome entries', 'foreign-team', { teamId: 'T_OTHER' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ response_type: 'ephemeral', text: FOREIGN_REQUEST_TEXT });
    await settle();
    expect(slack.responses.some((r) => r.id === 'foreign-team')).toBe(false);
    expect(slack.calls.slice(before).filter((c) => c.method !== 'auth.test')).toEqual([]);
  });

  it('refuses a command meant for another app id the same way', async () => {
    const res = await command('overview welcome', 'foreign-app', { appId: 'A_OTHER' });
    expect(JSON.parse(res.text)).toMatchObject({ text: FOREIGN_REQUEST_TEXT });
    await settle();
    expect(slack.responses.some((r) => r.id === 'foreign-app')).toBe(false);
  });

  it('acknowledges a button press from another workspace and uploads nothing', async () => {
    const before = slack.calls.length;
    const payload = {
      type: 'block_actions',
      user: { id: 'U_ASKER', team_id: 'T_OTHER' },
      api_app_id: 'A_APP',
      team: { id: 'T_OTHER' },
      channel: { id: 'C_MARKETING' },
      container: { type: 'message', message_ts: '1699999999.000100', channel_id: 'C_MARKETING' },
      message: { ts: '1699999999.000100', type: 'message', text: 'overview' },
      response_url: slack.responseUrl('foreign-button'),
      trigger_id: '1.2.3',
      actions: [{ type: 'button', action_id: 'journey_export:entries', block_id: 'b1', value: JSON.stringify({ j: 'welcome', from: null, to: null, tz: 'UTC', x: 'entries' }), action_ts: '1700000001.000' }],
    };
    const signed = signedRequest(SIGNING_SECRET, new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    expect((await post(signed.body, signed.headers)).status).toBe(200);
    await settle();
    expect(slack.calls.slice(before).some((c) => c.method.startsWith('files.'))).toBe(false);
    expect(slack.responses.some((r) => r.id === 'foreign-button')).toBe(false);
  });

  it('answers the configured workspace and app', async () => {
    await command('overview welcome', 'home');
    expect(JSON.stringify(await answerOf('home'))).toContain('66.7%');
  });

  it('still rejects a wrong signature and a replayed (stale) request with 401', async () => {
    const body = slashCommandBody({ text: 'overview welcome', responseUrl: slack.responseUrl('forged') });
    expect((await post(body, signedRequest('not-the-secret', body).headers)).status).toBe(401);
    expect((await post(body, signedRequest(SIGNING_SECRET, body, Math.floor(Date.now() / 1000) - 301).headers)).status).toBe(401);
  });
});

describe('exports of personal data', () => {
  it('refuses an export in a channel that is not allowed, clearly, and audits the denial', async () => {
    await command('export welcome entries', 'wrong-channel', { channelId: 'C_RANDOM' });
    const body = await answerOf('wrong-channel');
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body)).toContain('not posted in this channel');
    const audit = await db.db.select().from(exportAudit);
    expect(audit.some((a) => a.outcome === 'denied' && a.channel === 'C_RANDOM' && a.actor === 'U_ASKER')).toBe(true);
  });

  it('limits exports per user per hour (EXPORT_RATE_LIMIT), answers when to try again, and audits the refusal', async () => {
    for (const id of ['rl-1', 'rl-2']) {
      const before = slack.calls.length;
      await command('export welcome exits', id, { userId: 'U_LIMITED' });
      await slack.waitFor(() => slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal'));
    }
    const before = slack.calls.length;
    await command('export welcome exits', 'rl-3', { userId: 'U_LIMITED' });
    const body = await answerOf('rl-3');
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body)).toMatch(/made 2 exports in the last hour.*Try again in \d+ minutes?/);
    expect(slack.calls.slice(before).some((c) => c.method.startsWith('files.') || c.method === 'chat.postMessage')).toBe(false);
    const audit = await db.db.select().from(exportAudit);
    expect(audit.filter((a) => a.actor === 'U_LIMITED').map((a) => a.outcome)).toEqual(['uploaded', 'uploaded', 'rate-limited']);
    // another person is not affected
    const other = slack.calls.length;
    await command('export welcome exits', 'rl-other');
    await slack.waitFor(() => slack.calls.slice(other).find((c) => c.method === 'files.completeUploadExternal'));
  });
});

describe('Slack API failures', () => {
  // Each test is one export of its own user, so the hourly limit (2) of the tests above never interferes.
  async function exportPosts(id: string): Promise<{ parents: number; threadTs: unknown; parentTs: unknown }> {
    const before = slack.calls.length;
    await db.db.delete(exportAudit).where(sql`${exportAudit.actor} = 'U_RETRY'`);
    await command('export welcome converted-users', id, { userId: 'U_RETRY' });
    const complete = await slack.waitFor(() => slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal'), 30_000);
    const parents = slack.posts().filter((c) => slack.calls.indexOf(c) >= before && String(c.args.text).startsWith('Export:'));
    return { parents: parents.length, threadTs: complete.args.thread_ts, parentTs: parents[0]?.result?.ts };
  }

  it('retries a 500 that Slack answered without posting: posted once', async () => {
    slack.fail('chat.postMessage', 1, { status: 500 });
    const r = await exportPosts('http500');
    expect(r.parents).toBe(1);
    expect(r.threadTs).toBe(r.parentTs);
  });

  it('does not post twice when Slack posted but answered 500', async () => {
    slack.fail('chat.postMessage', 1, { status: 502, after: true });
    const r = await exportPosts('posted-then-500');
    expect(r.parents).toBe(1);
    expect(r.threadTs).toBe(r.parentTs);
  });

  it('does not post twice when Slack posted but its answer came too late (timeout)', async () => {
    slack.fail('chat.postMessage', 1, { after: true, hangMs: 2000 });
    const r = await exportPosts('posted-then-timeout');
    expect(r.parents).toBe(1);
    expect(r.threadTs).toBe(r.parentTs);
  });

  it('waits out a 429 on the post and a 503 of the upload URL, and posts once', async () => {
    slack.rateLimit('chat.postMessage', 1);
    slack.fail('upload', 1, { status: 503 });
    const r = await exportPosts('limited');
    expect(r.parents).toBe(1);
  });

  it('retries users.info after a 500 (the asker’s time zone) and answers', async () => {
    slack.fail('users.info', 1, { status: 500 });
    await command('overview welcome 7d', 'tz-retry');
    expect(JSON.stringify(await answerOf('tz-retry'))).toContain('Welcome series');
  });
});

describe('stopping', () => {
  it('stop() waits for an answer under way before it resolves', async () => {
    const config = loadConfig({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      DIGEST_SCHEDULER: 'off',
    });
    const second = await startSlackApp({ config, db: db.db, now: () => new Date(), log: createLogger('error', () => {}) });
    // The asker's time zone comes late, so the answer is still being computed when the stop begins.
    slack.fail('users.info', 1, { after: true, hangMs: 500 });
    const signed = signedRequest(SIGNING_SECRET, slashCommandBody({ text: 'overview welcome', responseUrl: slack.responseUrl('while-stopping'), userId: 'U_SLOWTZ' }));
    const res = await fetch(`http://127.0.0.1:${second.port}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).toBe(200);
    expect(slack.responses.some((r) => r.id === 'while-stopping')).toBe(false);
    await second.stop();
    expect(JSON.stringify(slack.responses.find((r) => r.id === 'while-stopping')?.body)).toContain('66.7%');
  });
});

describe('no internals in a Slack answer', () => {
  it('answers a database error with the general text only: no SQL, table names or stack', async () => {
    await db.db.execute(sql`alter table journeys rename to journeys_gone`);
    try {
      await command('overview welcome', 'db-error');
      const shown = JSON.stringify(await answerOf('db-error'));
      expect(shown).toContain(INTERNAL_TEXT.slice(0, 40));
      expect(shown).not.toMatch(/journeys_gone|relation|select|from |Error|at \S+:\d+|\.ts/);
    } finally {
      await db.db.execute(sql`alter table journeys_gone rename to journeys`);
    }
  });
});

describe('logs', () => {
  it('an ingest with rejected lines answers their reasons to the sender only', async () => {
    const lines = [
      { type: 'journey', journey_id: 'once', name: 'Once', conversion_event: null, attribution_window_hours: 0, reentry: false, steps: [] },
      { type: 'journey_entry', event_id: 'once-1', journey_id: 'once', entry_id: 'o1', external_id: 'PERSON-bob-0042', at: '2026-11-01T09:00:00Z' },
      { type: 'journey_entry', event_id: 'once-2', journey_id: 'once', entry_id: 'o2', external_id: 'PERSON-bob-0042', at: '2026-11-02T09:00:00Z' },
    ].map((l) => JSON.stringify(l));
    const res = await fetch(`http://127.0.0.1:${app.port}/ingest`, { method: 'POST', headers: { authorization: `Bearer ${INGEST_TOKEN}` }, body: `${lines.join('\n')}\nnot json PERSON-anna.smith@example.com` });
    const summary = (await res.json()) as { accepted: number; rejections: Array<{ reason: string }> };
    expect(summary.accepted).toBe(2);
    // the sender learns which of its users broke the re-entry rule; the log does not (checked below)
    expect(summary.rejections[0]!.reason).toContain('PERSON-bob-0042');
  });

  it('an ingest whose batch fails in the database logs the error without the External IDs in its parameters', async () => {
    await db.db.execute(sql`alter table users rename to users_gone`);
    try {
      const lines = ['PERSON-anna.smith@example.com', 'PERSON-bob-0042'].map((id, i) =>
        JSON.stringify({ type: 'conversion', event_id: `log-${i}`, external_id: id, event: 'purchase', at: '2026-11-01T09:00:00Z' }),
      );
      const res = await fetch(`http://127.0.0.1:${app.port}/ingest`, { method: 'POST', headers: { authorization: `Bearer ${INGEST_TOKEN}` }, body: lines.join('\n') });
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('PERSON-');
    } finally {
      await db.db.execute(sql`alter table users_gone rename to users`);
    }
    expect(logLines.some((l) => l.includes('ingest failed'))).toBe(true);
  });

  it('are JSON lines that never hold a token, the signing secret, a response_url or an External ID', async () => {
    // Everything above ran with LOG_LEVEL=debug: Bolt's and the Web API client's debug lines are in here too.
    expect(logLines.length).toBeGreaterThan(20);
    for (const line of logLines) expect(() => JSON.parse(line)).not.toThrow();
    const all = logLines.join('\n');
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, INGEST_TOKEN, '/respond/']) expect(all).not.toContain(secret);
    for (const id of externalIds) expect(all, id).not.toContain(id);
    // and they still say what happened
    expect(all).toContain('refused a Slack request from workspace T_OTHER');
    expect(all).toContain('hourly export limit');
  });
});
