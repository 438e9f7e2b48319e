// The /journey listener and the button listeners called directly, with a fake ack and respond and a Web API
// client pointed at the fake Slack: what each subcommand answers, where, and in which order.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportButtonListener, journeyCommandListener, stepsButtonListener, type SlackDeps } from '../../commands/index.js';
import { isUnavailable, SLACK_TEXT, UNAVAILABLE_TEXT, SLOW_TEXT } from '../../commands/error-answers.js';
import { createTimeZoneLookup } from '../../commands/user-time-zone.js';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../db/client.js';
import { previewCommand } from '../../src/preview.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { encodeActionValue } from '../../reports/blocks/actions.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { eventLines, openTestDb, type TestDb } from '../support/test-db.js';

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
async function command(text: string, deps: SlackDeps = depsWith(), userId = 'U_ISTANBUL', via: WebClient = client) {
  const events: string[] = [];
  const responses: Responded[] = [];
  await journeyCommandListener(deps)({
    command: { text, user_id: userId, channel_id: 'C_LISTEN' },
    ack: async () => void events.push('ack'),
    respond: (async (message: Responded) => {
      events.push('respond');
      responses.push(message);
    }) as never,
    client: via,
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


describe('exports and digests: what the asker and the channel are told', () => {
  const journeyLine = (journeyId: string, name: string, conversionEvent: string | null = 'purchase') => ({
    type: 'journey',
    journey_id: journeyId,
    name,
    conversion_event: conversionEvent,
    attribution_window_hours: 24,
    reentry: true,
    steps: [{ step_id: 'p1', name: 'Push', kind: 'push', next: [] }],
  });
  const entryLine = (journeyId: string, n: number) => ({
    type: 'journey_entry',
    event_id: `${journeyId}-en-${n}`,
    journey_id: journeyId,
    entry_id: `${journeyId}-e-${n}`,
    external_id: `${journeyId}-u-${n}`,
    at: '2026-11-03T10:00:00Z',
  });
  const EVIL = '<!channel> *Evil* `x` & <https://evil.example|click>';

  beforeAll(async () => {
    const lines = [
      journeyLine('evil', EVIL),
      entryLine('evil', 1),
      journeyLine('noconv', 'No conversions', null),
      entryLine('noconv', 1),
      journeyLine('tips', 'Tips & tricks'),
      entryLine('tips', 1),
      // defined last, and never entered: no activity
      journeyLine('idle', 'Idle journey'),
    ];
    await importEvents(db.db, eventLines(lines), { source: 'listener test' });
  });

  const auditRows = async (actor: string) =>
    queryRows<{ outcome: string; rows: number | null }>(db.db, sql`select outcome, rows from export_audit where actor = ${actor} order by id`);

  it("escapes the journey's name in the export post, so a name cannot ping the channel or add a link", async () => {
    const before = slack.calls.length;
    await command('export evil entries');
    const parent = slack.calls.slice(before).find((c) => c.method === 'chat.postMessage')!;
    const posted = JSON.stringify([parent.args.text, parent.args.blocks]);
    expect(posted).toContain('&lt;!channel&gt; *Evil* `x` &amp; &lt;https://evil.example|click&gt;');
    expect(posted).not.toContain('<!channel>');
    expect(posted).not.toContain('<https://evil.example');
  });

  it.each([
    { text: 'export welcome exits last-week', said: 'Unexpected \\"last-week\\" after the export' },
    { text: 'export welcome exits 1w', said: 'Unexpected \\"1w\\" after the export' },
    { text: 'export welcome step-users s1 failed last-week', said: 'Unexpected \\"last-week\\" after the status' },
  ])('says a word after the export ($text) is not a period it knows', async ({ text, said }) => {
    const res = await command(text);
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain(said);
    expect(res.text).toContain('give at most one period (today, yesterday, 7d');
  });

  it('names a wrong status, and the steps a step name matches more than one of', async () => {
    expect((await command('export welcome step-users s1 bogus')).text).toContain('\\"bogus\\" is not a status: step-users takes one of entered, sent, failed, shown, clicked');
    expect((await command('export welcome step-users Welcome failed')).text).toContain(
      '\\"Welcome\\" matches 2 steps of welcome: s1 (Welcome push), s2 (Welcome email). Give one of these ids.',
    );
  });

  it('refuses an empty export to someone who may not export, and records every empty one', async () => {
    const deps = depsWith({ policy: { allowedUsers: ['U_ALLOWED'], allowedChannels: [] } });
    const empty = 'export welcome exits 2026-10-01..2026-10-02';
    const refused = await command(empty, deps, 'U_OTHER');
    expect(refused.text).toContain('not on the list of people allowed to export');
    expect(refused.text).not.toContain('Nothing to export');
    expect(await auditRows('U_OTHER')).toEqual([{ outcome: 'denied', rows: null }]);

    const allowed = await command(empty, deps, 'U_ALLOWED');
    expect(allowed.responses[0]!.response_type).toBe('ephemeral');
    expect(allowed.text).toContain('Nothing to export: exits of Welcome series (welcome) is 0 for 1 Oct 2026 – 2 Oct 2026 (Europe/Istanbul).');
    expect(await auditRows('U_ALLOWED')).toEqual([{ outcome: 'empty', rows: 0 }]);
  });

  it('previews an export as text (the CLI\'s slash) with the name as typed, and an empty one only to the asker', async () => {
    const preview = async (text: string) => {
      let out = '';
      await previewCommand(depsWith(), text, { tz: 'UTC', write: (chunk) => void (out += chunk) });
      return out;
    };
    const empty = await preview('export evil exits');
    expect(empty).toMatch(/^\(only visible to you\)\nNothing to export: exits of <!channel> /);
    expect(empty).toContain('& <https://evil.example|click> (evil) is 0 for all time.');
    const entries = await preview('export evil entries');
    expect(entries).toContain(`(visible in the channel)\nExport: entries of ${EVIL} (evil)\n1 row · all time`);
  });

  it('says a journey without a conversion event has no conversions to export', async () => {
    const res = await command('export noconv converted-users');
    expect(res.text).toContain('The journey has no conversion event, so it counts no conversions');
    expect(res.text).not.toContain('is 0 for');
  });

  it("names the file by the period's first and last days in the asker's zone", async () => {
    const filenames = async (text: string) => {
      const before = slack.calls.length;
      await command(text);
      return slack.calls.slice(before).filter((c) => c.method === 'files.getUploadURLExternal').map((c) => c.args.filename);
    };
    // Istanbul (UTC+3): 1–2 Nov there is 31 Oct 21:00 UTC to 2 Nov 21:00 UTC.
    expect(await filenames('export welcome entries 2026-11-01..2026-11-02')).toEqual(['welcome-entries-2026-11-01_2026-11-02.csv']);
    expect(await filenames('export welcome entries 2026-11-01..2026-11-01')).toEqual(['welcome-entries-2026-11-01.csv']);
    expect(await filenames('export welcome entries')).toEqual(['welcome-entries-all-time.csv']);
  });

  it.each([
    {
      how: 'the upload fails',
      fail: () => slack.fail('upload', 1, { status: 400 }),
      user: 'U_UPLOAD',
      said: 'The CSV could not be uploaded to Slack (the upload: file upload failed with HTTP 400). Nothing was shared',
    },
    {
      how: 'Slack will not share the file in the channel (not_in_channel)',
      fail: () => slack.fail('files.completeUploadExternal', 1, { error: 'not_in_channel' }),
      user: 'U_NOTIN',
      said: 'The CSV could not be shared in this channel. I can’t post in this channel yet. Invite me',
    },
  ])('marks the export post as failed when $how, and tells the asker why', async ({ fail, user, said }) => {
    const before = slack.calls.length;
    fail();
    const res = await command('export welcome entries', depsWith(), user);
    const calls = slack.calls.slice(before);
    const parent = calls.find((c) => c.method === 'chat.postMessage')!;
    const update = calls.find((c) => c.method === 'chat.update')!;
    expect(update.args.ts).toBe(parent.result?.ts);
    expect(JSON.stringify(update.args.blocks)).toContain('*Export failed:* entries of Welcome series (welcome)');
    expect(JSON.stringify(update.args.blocks)).toContain('the CSV could not be uploaded; ask for it again');
    expect(res.responses[0]!.response_type).toBe('ephemeral');
    expect(res.text).toContain(said);
    expect(await auditRows(user)).toEqual([{ outcome: 'failed', rows: null }]);
  });

  it.each([
    { code: '3D000', message: 'database "analytics" does not exist' },
    { code: '55000', message: 'database "analytics" is not currently accepting connections' },
    { code: '28P01', message: 'password authentication failed for user "app"' },
  ])('answers "try again" for a database that refuses connections ($code)', ({ code, message }) => {
    expect(isUnavailable(Object.assign(new Error(message), { code }))).toBe(true);
  });

  it('blames Slack, not the database, when Slack cannot be reached', async () => {
    const unreachable = new WebClient('xoxb-test', { slackApiUrl: 'http://127.0.0.1:1/api/', retryConfig: { retries: 0 } });
    const { responses } = await command('export welcome entries', depsWith({ userTimeZone: async () => 'UTC' }), 'U_NOSLACK', unreachable);
    expect(responses[0]!.text).toContain(SLACK_TEXT);
    expect(responses[0]!.text).not.toContain(UNAVAILABLE_TEXT);
  });

  it('reads the text as Slack sends it, with &, < and > escaped', async () => {
    const res = await command('overview "Tips &amp; tricks"');
    expect(res.responses[0]!.response_type).toBe('in_channel');
    expect(res.text).toContain('Tips &amp; tricks');
    expect(res.text).toContain('Total Entries');
  });

  it('lists journeys with entries before one never entered, however recently that one was defined', async () => {
    const res = await command('list');
    const text = res.text;
    expect(text.indexOf('Welcome series')).toBeGreaterThan(-1);
    expect(text.indexOf('Idle journey')).toBeGreaterThan(text.indexOf('Welcome series'));
  });

  it('says a mistyped time zone in digest add is not a zone', async () => {
    for (const text of ['digest add welcome daily 09:00 Mars/Olympus', 'digest add welcome "0 9 * * 1" Europe/Istambul']) {
      const res = await command(text);
      expect(res.responses[0]!.response_type).toBe('ephemeral');
      expect(res.text).toMatch(/\\"(Mars\/Olympus|Europe\/Istambul)\\" is not an IANA time zone/);
    }
  });

  it('refuses a digest number that is not plain digits, and days= given twice', async () => {
    const added = await command('digest add welcome daily 09:00');
    const id = Number(/digest #(\d+)/i.exec(added.text)?.[1] ?? /#(\d+)/.exec(added.text)?.[1]);
    expect(id).toBeGreaterThan(0);
    for (const form of [`${id}e0`, `0x${id.toString(16)}`, `${id}.0`]) {
      expect((await command(`digest remove ${form}`)).text).toContain('Which digest? Give its number');
    }
    expect((await command('digest list')).text).toContain(`#${id}`);
    expect((await command('digest add welcome daily 09:00 days=14 days=7')).text).toContain('days is given more than once');
    expect((await command(`digest remove #${id}`)).text).toContain('removed digest');
  });
});
