// The /journey listener and the button listeners called directly, with a fake ack and respond and a Web API
// client pointed at the fake Slack: what each subcommand answers, where, and in which order.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportButtonListener, journeyCommandListener, stepsButtonListener, type SlackDeps } from '../../commands/index.js';
import { UNAVAILABLE_TEXT, SLOW_TEXT } from '../../commands/error-answers.js';
import { createTimeZoneLookup } from '../../commands/user-time-zone.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { encodeActionValue } from '../../reports/blocks/actions.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const NOW = new Date('2026-11-05T21:30:00Z');

let db: TestDb;
let slack: FakeSlack;
let client: WebClient;

interface Responded {
  response_type?: string;
  text?: string;
  blocks?: Array<{ type: string }>;
}

function depsWith(overrides: Partial<SlackDeps> = {}): SlackDeps {
  return {
    db: db.db,
    now: () => NOW,
    campaignReportUrl: 'https://reports.example.com/campaigns/{campaign_id}?journey={journey_id}&step={step_id}',
    policy: { allowedUsers: [], allowedChannels: [] },
    gzipAbove: 5 * 1024 * 1024,
    log: { error: () => {}, info: () => {} },
    userTimeZone: createTimeZoneLookup({ defaultTz: 'UTC', ttlMs: 60_000, now: () => NOW }),
    answerTimeoutMs: 20_000,
    ...overrides,
  };
}

/** Runs the /journey listener once; records the order of ack and respond. */
async function command(text: string, deps: SlackDeps = depsWith(), userId = 'U_ISTANBUL') {
  const events: string[] = [];
  const responses: Responded[] = [];
  await journeyCommandListener(deps)({
    command: { text, user_id: userId, channel_id: 'C_LISTEN' },
    ack: async () => void events.push('ack'),
    respond: (async (message: Responded) => {
      events.push('respond');
      responses.push(message);
    }) as never,
    client,
  });
  return { events, responses, text: JSON.stringify(responses) };
}

beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
  slack = await startFakeSlack({ userTz: 'Europe/Istanbul' });
  client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
});

afterAll(async () => {
  await slack?.close();
  await db?.close();
});

describe('/journey listener', () => {
  it('acknowledges before it answers, and answers help only to the asker', async () => {
    const res = await command('help');
    expect(res.events).toEqual(['ack', 'respond']);
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain('/journey overview');
  });

  it('lists journeys in the channel with entries and conversion rate', async () => {
    const res = await command('list');
    expect(res.responses[0]!.response_type).toBe('in_channel');
    // 11 entries; 6 of 9 users converted
    expect(res.text).toContain('11 entries');
    expect(res.text).toContain('66.7%');
  });

  it('answers the overview in the channel, within Slack limits', async () => {
    const res = await command('overview welcome');
    const answer = res.responses[0]!;
    expect(answer.response_type).toBe('in_channel');
    expect(res.text).toContain('66.7% (6 of 9 users)');
    assertWithinSlackLimits({ text: answer.text ?? '', blocks: answer.blocks as never, thread: [] });
  });

  it('reads a period in the asker’s Slack time zone and says which', async () => {
    // 21:30 UTC on 5 November is already 6 November in Istanbul (UTC+3): "yesterday" there is 5 November,
    // which holds x5b only (entered 09:00 UTC): 1 entry.
    const res = await command('overview welcome yesterday');
    expect(res.text).toContain('Europe/Istanbul');
    expect(res.text).toMatch(/Total Entries[^0-9]*1\b/);
  });

  it('answers steps with drops, flags and a Report button for a campaign step with sent messages', async () => {
    const res = await command('steps welcome');
    expect(res.responses[0]!.response_type).toBe('in_channel');
    // s2 → s3: 4 users → 1 user = 75.0% drop, above the 40% threshold
    expect(res.text).toContain('75.0% drop');
    expect(res.text).toContain('https://reports.example.com/campaigns/cmp-101?journey=welcome&step=s1');
    // s3 has sent messages but no campaign_id: no Report button for it
    expect(res.text).not.toContain('step=s3');
  });

  it('answers one step in full with export buttons for its non-zero statuses only', async () => {
    const res = await command('step welcome "Welcome push"');
    expect(res.text).toContain('Export failed users');
    expect(res.text).toContain('Export clicked users');
    // s1 has no shown messages (and push shows none): no such button
    expect(res.text).not.toContain('Export shown users');
  });

  it('names the closest journeys for a near miss, only to the asker', async () => {
    const res = await command('steps welcom3');
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain('welcome');
  });

  it('explains a bad period', async () => {
    const res = await command('overview welcome 2026-11-09..2026-11-01');
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain('ends before it starts');
  });

  it.each([
    { text: 'overview welcome last-week', named: '"last-week"' },
    { text: 'steps welcome lastweek', named: '"lastweek"' },
    { text: 'overview welcome 8x', named: '"8x"' },
    { text: 'overview welcome 7d extra', named: '"7d" "extra"' },
    { text: 'steps Welcome series', named: '"series"' },
  ])('refuses words it does not take after the journey ($text) instead of answering for all time', async ({ text, named }) => {
    const res = await command(text);
    expect(res.responses).toHaveLength(1);
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain(`Unexpected ${named.replaceAll('"', '\\"')} after the journey: give it at most one period (today, yesterday, 7d`);
    expect(res.text).toContain('quote a journey name with spaces');
    expect(res.text).not.toContain('all time');
  });

  it('posts an export in the channel and uploads its CSV into that post’s thread', async () => {
    const before = slack.calls.length;
    await command('export welcome conversion-events');
    const calls = slack.calls.slice(before);
    const parent = calls.find((c) => c.method === 'chat.postMessage')!;
    const complete = calls.find((c) => c.method === 'files.completeUploadExternal')!;
    expect(parent.args.channel).toBe('C_LISTEN');
    expect(complete.args.thread_ts).toBe(parent.result?.ts);
    // 8 attributed conversion events
    expect(String(parent.args.text)).toContain('8 rows');
  });

  it('answers "try again" when the database is unavailable, and never shows the error', async () => {
    const broken = depsWith({
      db: new Proxy(db.db, {
        get: (target, prop, receiver) =>
          prop === 'select' || prop === 'execute'
            ? () => {
                throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
              }
            : Reflect.get(target, prop, receiver),
      }),
    });
    const res = await command('overview welcome', broken);
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.responses[0]!.text).toContain(UNAVAILABLE_TEXT);
    expect(res.text).not.toContain('ECONNREFUSED');
  });

  it('answers "too slow, try again" when the answer is not ready in time', async () => {
    // A query builder whose every step chains and whose result never comes.
    const hanging: object = new Proxy(() => {}, {
      get: (_target, prop) => (prop === 'then' ? () => {} : () => hanging),
      apply: () => hanging,
    });
    const slow = depsWith({
      answerTimeoutMs: 50,
      db: new Proxy(db.db, {
        get: (target, prop, receiver) => (prop === 'select' || prop === 'execute' ? () => hanging : Reflect.get(target, prop, receiver)),
      }),
    });
    const res = await command('overview welcome', slow);
    expect(res.responses[0]!.text).toContain(SLOW_TEXT);
  });
});

describe('button listeners', () => {
  const body = (messageTs: string) =>
    ({
      type: 'block_actions',
      user: { id: 'U_CLICK' },
      channel: { id: 'C_LISTEN' },
      container: { type: 'message', message_ts: messageTs, channel_id: 'C_LISTEN' },
      message: { ts: messageTs, type: 'message', text: 'overview' },
    }) as never;
  const button = (actionId: string, value: string) => ({ type: 'button', action_id: actionId, value, block_id: 'b', action_ts: '1', text: { type: 'plain_text', text: '' } }) as never;

  it('Steps answers the steps of the same journey and period', async () => {
    const responses: Responded[] = [];
    const value = encodeActionValue({ j: 'welcome', from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z', tz: 'UTC' });
    await stepsButtonListener(depsWith())({
      body: body('1700000000.000001'),
      action: button('journey_steps', value),
      ack: async () => {},
      respond: (async (m: Responded) => void responses.push(m)) as never,
      client,
    });
    expect(responses[0]!.response_type).toBe('in_channel');
    // 1 November cohort: s1 entered by 5 users
    expect(JSON.stringify(responses)).toContain('1 Nov 2026');
  });

  it('an export button uploads into the thread of the message holding it', async () => {
    const before = slack.calls.length;
    const value = encodeActionValue({ j: 'welcome', from: null, to: null, tz: 'UTC', x: 'entries' });
    await exportButtonListener(depsWith())({
      body: body('1700000000.000777'),
      action: button('journey_export:entries', value),
      ack: async () => {},
      respond: (async () => {}) as never,
      client,
    });
    const complete = slack.calls.slice(before).find((c) => c.method === 'files.completeUploadExternal')!;
    expect(complete.args.thread_ts).toBe('1700000000.000777');
  });

  it('a button with a value it did not make gets a short answer, not an error', async () => {
    const responses: Responded[] = [];
    await exportButtonListener(depsWith())({
      body: body('1700000000.000778'),
      action: button('journey_export:entries', '{"j":"welcome"'),
      ack: async () => {},
      respond: (async (m: Responded) => void responses.push(m)) as never,
      client,
    });
    expect(responses[0]!.response_type).toBe('ephemeral');
    expect(responses[0]!.text).toContain('no longer works');
  });
});

