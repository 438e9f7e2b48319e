// Digests driven from outside, as an operator would: a subscription added with the CLI, then `digest run-due --now …`
// run twice at once against a fake Slack, counting posts (child processes on Postgres; PGlite is one process only).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/run-cli.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';
import { fixturesDir } from '../support/worked-example.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

let work: string;
let env: Record<string, string>;
let pgDb: TestDb | undefined;
let slack: FakeSlack;

const cli = (args: string[], now = '2026-11-07T12:00:00Z') => runCliCaptured(args, env, new Date(now));

/** The CLI as a separate process, as a cron job or a second machine would run it. */
async function cliProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli.ts'), ...args], {
      cwd: repo,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const parents = (channel: string) =>
  slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel && c.args.thread_ts === undefined);

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'ja-digest-cli-'));
  slack = await startFakeSlack();
  // What a cron job that posts digests sets: the bot token, no signing secret (nothing here receives Slack's requests).
  const slackEnv = { SLACK_BOT_TOKEN: 'xoxb-cli', SLACK_API_URL: slack.apiUrl, LOG_LEVEL: 'error', QUICKCHART_URL: 'https://charts.example.test' };
  if (testDatabaseUrl) {
    pgDb = await openTestDb();
    env = { ...pgDb.env, ...slackEnv };
  } else {
    env = { PGLITE_DIR: path.join(work, 'db'), ...slackEnv };
  }
  expect((await cli(['import', path.join(fixturesDir, 'events.ndjson'), '--json'])).code).toBe(0);
});

afterAll(async () => {
  await slack?.close();
  await pgDb?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('digest subscriptions from the CLI', () => {
  it('adds a subscription and lists it with its next post', async () => {
    const added = await cli(['digest', 'add', '--channel', 'C_CLI', '--journey', 'welcome', '--schedule', 'daily 09:00', '--tz', 'Europe/Istanbul']);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^Added digest #\d+: Welcome series \(welcome\), daily 09:00 \(Europe\/Istanbul\), last 7 days, in channel C_CLI\. Next post: Sun 8 Nov 2026 09:00 \(Europe\/Istanbul\)\./);
    const list = await cli(['digest', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ channel_id: 'C_CLI', journey_id: 'welcome', schedule: 'daily 09:00', cron: '0 9 * * *', tz: 'Europe/Istanbul', period_days: 7, next: 'Sun 8 Nov 2026 09:00 (Europe/Istanbul)' }),
    ]);
  });

  it('refuses a bad schedule or time zone with a message and exit 2 (usage), an unknown journey with exit 1', async () => {
    const schedule = await cli(['digest', 'add', '--channel', 'C', '--journey', 'welcome', '--schedule', 'daily 25:00']);
    expect(schedule).toMatchObject({ code: 2, stderr: expect.stringContaining('"25:00" is not a time of day') });
    const zone = await cli(['digest', 'add', '--channel', 'C', '--journey', 'welcome', '--schedule', 'daily 09:00', '--tz', 'Mars/Base']);
    expect(zone).toMatchObject({ code: 2, stderr: expect.stringContaining('"Mars/Base" is not an IANA time zone') });
    const journey = await cli(['digest', 'add', '--channel', 'C', '--journey', 'wellcome', '--schedule', 'daily 09:00']);
    expect(journey).toMatchObject({ code: 1, stderr: expect.stringContaining('welcome') });
    expect((await cli(['digest', 'add', '--channel', 'C'])).code).toBe(2);
    expect((await cli(['digest', 'frobnicate'])).code).toBe(2);
    expect(JSON.parse((await cli(['digest', 'list', '--json'])).stdout)).toHaveLength(1);
  });

  it('posts a due digest exactly once when `digest run-due` runs twice at once', async () => {
    // Sunday 8 November 2026 09:00 in Istanbul is 06:00 UTC
    const args = ['digest', 'run-due', '--now', '2026-11-08T06:00:30Z', '--json'];
    const results = testDatabaseUrl
      ? await Promise.all([cliProcess(args), cliProcess(args)])
      : // PGlite runs inside one process: two runs at once in this process (the second may find the folder locked)
        await Promise.all([cli(args), cli(args)]);
    for (const r of results) {
      if (r.code !== 0) expect(r.stderr).toContain('is in use by process');
    }
    expect(results.some((r) => r.code === 0)).toBe(true);
    expect(parents('C_CLI')).toHaveLength(1);
    const posted = results.filter((r) => r.code === 0).flatMap((r) => (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { posted: unknown[] }).posted);
    expect(posted).toEqual([expect.objectContaining({ channel_id: 'C_CLI', scheduled_for: '2026-11-08T06:00:00.000Z', late: false })]);
    // its step table went into its thread
    const ts = parents('C_CLI')[0]!.result?.ts;
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts)).toHaveLength(1);

    // later the same day: nothing more to post
    const again = await cli(['digest', 'run-due', '--now', '2026-11-08T12:00:00Z']);
    expect(again.stdout).toContain('Digests: 0 posted, 0 failed, 0 skipped');
    expect(parents('C_CLI')).toHaveLength(1);
  });

  it('says what run-due needs when there is no bot token', async () => {
    const saved = env;
    env = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('SLACK_')));
    try {
      const res = await cli(['digest', 'run-due']);
      expect(res).toMatchObject({ code: 1, stderr: expect.stringContaining('set SLACK_BOT_TOKEN') });
    } finally {
      env = saved;
    }
  });

  it('removes a subscription', async () => {
    const [sub] = JSON.parse((await cli(['digest', 'list', '--json'])).stdout) as Array<{ id: number }>;
    const removed = await cli(['digest', 'remove', String(sub!.id)]);
    expect(removed).toMatchObject({ code: 0, stdout: expect.stringContaining(`Removed digest #${sub!.id}`) });
    expect((await cli(['digest', 'remove', String(sub!.id)])).code).toBe(1);
    expect((await cli(['digest', 'list'])).stdout).toContain('No digests yet');
  });
});
