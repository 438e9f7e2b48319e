// End to end: the real Bolt app on loopback, signed requests as Slack sends them, a fake Slack Web API.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { exportAudit } from '../../db/schema.js';
import { startSlackApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { loopbackAppEnv, signedRequest, slashCommandBody, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const SECRET = 'test-signing-secret';

let db: TestDb;
let slack: FakeSlack;
let app: RunningApp;
let logLines: string[];

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
  slack = await startFakeSlack({ userTz: 'UTC' });
  logLines = [];
  const config = loadConfig(loopbackAppEnv(slack, SECRET, { EXPORT_ALLOWED_USERS: 'U_ASKER,U_CLICKER' }));
  app = await startSlackApp({ config, db: db.db, now: () => new Date('2026-11-29T12:00:00Z'), log: createLogger('error', (l) => logLines.push(l)) });
});

afterAll(async () => {
  await app?.stop();
  await slack?.close();
  await db?.close();
});

async function post(body: string, headers: Record<string, string>) {
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${app.port}/slack/events`, { method: 'POST', headers, body });
  return { status: res.status, ms: Date.now() - started };
}

/** A click of one button on the message `messageTs` in C_MARKETING, answered at the response_url `responseId`. */
function buttonPayload(messageTs: string, responseId: string, button: { action_id: string; value: string }) {
  return {
    type: 'block_actions',
    user: { id: 'U_CLICKER' },
    api_app_id: 'A_APP',
    team: { id: 'T_FAKE' },
    channel: { id: 'C_MARKETING' },
    container: { type: 'message', message_ts: messageTs, channel_id: 'C_MARKETING' },
    message: { ts: messageTs, type: 'message', text: 'overview' },
    response_url: slack.responseUrl(responseId),
    trigger_id: '1.2.3',
    actions: [{ type: 'button', block_id: 'b1', action_ts: '1700000001.000', ...button }],
  };
}

async function command(text: string, id: string, userId = 'U_ASKER') {
  const signed = signedRequest(SECRET, slashCommandBody({ text, responseUrl: slack.responseUrl(id), userId }));
  return post(signed.body, signed.headers);
}

function responseText(id: string): string | undefined {
  const r = slack.responses.find((x) => x.id === id);
  return r ? JSON.stringify(r.body) : undefined;
}

describe('Slack requests', () => {
  it('answers /healthz without Slack', async () => {
    const res = await fetch(`http://127.0.0.1:${app.port}/healthz`);
    expect(res.status).toBe(200);
  });

  it('rejects a wrong signature and a timestamp older than five minutes with 401', async () => {
    const body = slashCommandBody({ text: 'overview welcome', responseUrl: slack.responseUrl('bad') });
    const wrong = signedRequest('not-the-secret', body);
    expect((await post(body, wrong.headers)).status).toBe(401);
    const stale = signedRequest(SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60);
    expect((await post(body, stale.headers)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.responses.some((r) => r.id === 'bad')).toBe(false);
  });

  it('acknowledges at once and answers the overview with the worked example numbers, in the channel', async () => {
    const res = await command('overview welcome', 'ov');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    const text = await slack.waitFor(() => responseText('ov'));
    const body = slack.responses.find((r) => r.id === 'ov')!.body;
    expect(body.response_type).toBe('in_channel');
    // 6 converted of 9 entry users = 66.7%; 11 entries; 4 messages sent; 8 conversion events; 5 exits
    expect(text).toContain('66.7%');
    expect(text).toMatch(/6 of 9/);
    expect(text).toContain('Welcome series');
  });

  it('answers an unknown journey only to the asker, naming the closest one', async () => {
    await command('overview wellcome', 'unknown');
    await slack.waitFor(() => responseText('unknown'));
    const body = slack.responses.find((r) => r.id === 'unknown')!.body;
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body)).toContain('welcome');
  });

  it('posts the export message and uploads the exact CSV into its thread', async () => {
    const before = slack.calls.length;
    await command('export welcome converted-users', 'ex');
    const complete = await slack.waitFor(() =>
      slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal'),
    );
    const parent = slack.calls.slice(before).find((c) => c.method === 'chat.postMessage')!;
    expect(parent.args.channel).toBe('C_MARKETING');
    expect(String(parent.args.text)).toContain('6 rows');
    const parentTs = parent.result?.ts;
    expect(parentTs).toBeTruthy();
    expect(complete.args.channel_id).toBe('C_MARKETING');
    expect(complete.args.thread_ts).toBe(parentTs);
    const fileId = (complete.args.files as Array<{ id: string }>)[0]!.id;
    expect(slack.uploads.get(fileId)!.toString('utf8')).toBe(readFileSync(path.join(fixtures, 'expected-converted-users.csv'), 'utf8'));
    // The audit row is written once Slack confirmed the upload: wait for it rather than race it.
    await expect
      .poll(async () => (await db.db.select().from(exportAudit)).some((a) => a.outcome === 'uploaded' && a.rows === 6 && a.actor === 'U_ASKER'))
      .toBe(true);
  });

  it('uploads a button export into the thread of the message holding the button', async () => {
    const before = slack.calls.length;
    const payload = buttonPayload('1699999999.000100', 'button', {
      action_id: 'journey_export:s1:failed',
      value: JSON.stringify({ j: 'welcome', from: null, to: null, tz: 'UTC', x: 'step-users', s: 's1', st: 'failed' }),
    });
    const signed = signedRequest(SECRET, new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    expect((await post(signed.body, signed.headers)).status).toBe(200);
    const complete = await slack.waitFor(() => slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal'));
    expect(complete.args.thread_ts).toBe('1699999999.000100');
    // no new parent message: the button's message is the parent
    expect(slack.calls.slice(before).some((c) => c.method === 'chat.postMessage')).toBe(false);
    const fileId = (complete.args.files as Array<{ id: string }>)[0]!.id;
    expect(slack.uploads.get(fileId)!.toString('utf8')).toBe(readFileSync(path.join(fixtures, 'expected-step-users-s1-failed.csv'), 'utf8'));
  });

  it('acknowledges an action it does not know at once and does nothing with it', async () => {
    const before = slack.calls.length;
    const payload = buttonPayload('1699999999.000200', 'unknown-action', { action_id: 'journey_exportX', value: 'x' });
    const signed = signedRequest(SECRET, new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    // Unacknowledged, Bolt answers 404 once its 3 s are up.
    expect((await post(signed.body, signed.headers)).status).toBe(200);
    expect(slack.calls.slice(before)).toEqual([]);
  });

  it('refuses an export to a user who is not allowed, and records the denial', async () => {
    await command('export welcome entries', 'denied', 'U_STRANGER');
    await slack.waitFor(() => responseText('denied'));
    const body = slack.responses.find((r) => r.id === 'denied')!.body;
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body)).toContain('not on the list');
    const audit = await db.db.select().from(exportAudit);
    expect(audit.some((a) => a.outcome === 'denied' && a.actor === 'U_STRANGER')).toBe(true);
  });

  it('answers "nothing to export" for a metric that is 0, and uploads nothing', async () => {
    const before = slack.calls.length;
    await command('export welcome step-users s3 failed', 'zero');
    const text = await slack.waitFor(() => responseText('zero'));
    expect(text).toContain('Nothing to export');
    expect(slack.calls.slice(before).some((c) => c.method.startsWith('files.'))).toBe(false);
  });

  it('answers without asking Slack for auth.test first (a partial Slack API is enough)', () => {
    expect(slack.calls.some((c) => c.method === 'auth.test')).toBe(false);
    expect(slack.responses.length).toBeGreaterThan(0);
  });

  it('waits out a rate-limited chat.postMessage and posts once', async () => {
    slack.rateLimit('chat.postMessage', 1);
    const before = slack.calls.length;
    await command('export welcome exits', 'limited');
    await slack.waitFor(() => slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal'), 20_000);
    expect(slack.calls.slice(before).filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
  });
});
