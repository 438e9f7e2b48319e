// The CLI end to end: import, report --json and exports reproduce the worked examples; exit codes and messages.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createDb } from '../../db/client.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { runCliCaptured } from '../support/run-cli.js';
import { openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const expectedReport = JSON.parse(readFileSync(path.join(fixtures, 'expected-report.json'), 'utf8'));

let work: string;
let env: Record<string, string>;
let pgDb: TestDb | undefined;

const cli = (...args: string[]) => runCliCaptured(args, env, new Date('2026-11-29T12:00:00Z'));

/** The database the CLI runs on, opened by the test itself (an embedded one only while no CLI call holds it). */
const openCliDatabase = () => createDb(pgDb ? pgDb.config : { kind: 'pglite', dir: env.PGLITE_DIR });

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'ja-cli-'));
  if (testDatabaseUrl) {
    pgDb = await openTestDb();
    env = pgDb.env;
  } else {
    env = { PGLITE_DIR: path.join(work, 'db') };
  }
});

afterAll(async () => {
  await pgDb?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('demo', () => {
  it('loads into an empty database only: a second run is refused and changes nothing', async () => {
    // A database of its own: the demo's journeys would meet the worked example's in the tests below.
    const ownDb = testDatabaseUrl ? await openTestDb() : undefined;
    const own = ownDb ? ownDb.env : { PGLITE_DIR: path.join(work, 'demo-db') };
    const at = (iso: string, ...args: string[]) => runCliCaptured(args, own, new Date(iso));
    try {
      const first = await at('2026-11-29T12:00:00Z', 'demo', '--scale', '0.2');
      expect(first.code, first.stderr).toBe(0);
      const before = (await at('2026-11-29T12:00:00Z', 'report', 'welcome', '--json')).stdout;
      // an hour later: a new demo set whose ids are not those of the first
      const second = await at('2026-11-29T13:00:00Z', 'demo', '--scale', '0.2');
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(
        /^The database holds 5 journeys already \(.*\): demo data goes only into an empty one\. Point PGLITE_DIR \(or DATABASE_URL\) at a new database for it\./,
      );
      expect((await at('2026-11-29T12:00:00Z', 'report', 'welcome', '--json')).stdout).toBe(before);
    } finally {
      await ownDb?.close();
    }
  }, 120_000);
});

describe('import', () => {
  it('imports the worked example, then counts a second import as duplicates', async () => {
    const first = await cli('import', path.join(fixtures, 'events.ndjson'), '--json');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout.trim().split('\n').at(-1)!);
    // 1 journey line + 51 events
    expect(summary).toMatchObject({ accepted: 52, duplicates: 0, rejected: 0 });
    const second = await cli('import', path.join(fixtures, 'events.ndjson'), '--json');
    // the journey line always counts as accepted; every event is already stored
    expect(JSON.parse(second.stdout.trim().split('\n').at(-1)!)).toMatchObject({ accepted: 1, duplicates: 51, rejected: 0 });
  });

  it('reports rejected lines with their numbers and writes them unchanged to --rejects', async () => {
    const file = path.join(work, 'bad.ndjson');
    const bad1 = '{"type":"conversion","event_id":"cli-c1","external_id":"u1","event":"purchase","at":"2026-11-01T09:00:00"}';
    const good = '{"type":"conversion","event_id":"cli-c2","external_id":"u1","event":"purchase","at":"2026-11-01T09:00:00Z"}';
    const bad2 = 'not json';
    writeFileSync(file, `${bad1}\n${good}\n${bad2}\n`);
    const rejects = path.join(work, 'rejects.ndjson');
    const res = await cli('import', file, '--rejects', rejects);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('1 accepted');
    expect(res.stdout).toContain('2 rejected');
    expect(res.stdout).toMatch(/line 1: .*time zone/);
    expect(res.stdout).toMatch(/line 3: not valid JSON/);
    expect(readFileSync(rejects, 'utf8')).toBe(`${bad1}\n${bad2}\n`);
  });

  it('--strict refuses a file with a bad line, writes nothing and exits 1', async () => {
    const file = path.join(work, 'strict.ndjson');
    writeFileSync(
      file,
      '{"type":"conversion","event_id":"strict-1","external_id":"s1","event":"purchase","at":"2026-11-01T09:00:00Z"}\n{"type":"nope"}\n',
    );
    const res = await cli('import', file, '--strict', '--json');
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout.trim())).toMatchObject({ status: 'refused', accepted: 0, rejected: 1 });
    // the good line was not written: importing it alone now accepts it
    writeFileSync(file, '{"type":"conversion","event_id":"strict-1","external_id":"s1","event":"purchase","at":"2026-11-01T09:00:00Z"}\n');
    expect(JSON.parse((await cli('import', file, '--json')).stdout.trim())).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('after a strict refusal, says to import the whole file again (not only its bad lines, which would lose the rest)', async () => {
    const file = path.join(work, 'strict-advice.ndjson');
    writeFileSync(file, '{"type":"conversion","event_id":"adv-1","external_id":"s1","event":"purchase","at":"2026-11-01T09:00:00Z"}\n{"type":"nope"}\n');
    const rejects = path.join(work, 'strict-advice.rejects.ndjson');
    const res = await cli('import', file, '--strict', '--rejects', rejects);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('Fix the bad line(s) in the file itself and import the whole file again.');
    expect(res.stdout).toContain(`The bad lines are also in ${rejects}, for reference.`);
    expect(res.stdout).not.toContain('import that file again');
  });

  it('writes a rejected line that is not UTF-8 to --rejects as the bytes it had', async () => {
    const file = path.join(work, 'latin1.ndjson');
    const bad = Buffer.concat([Buffer.from('{"type":"conversion","event_id":"l1","external_id":"Jos'), Buffer.from([0xe9]), Buffer.from('","event":"purchase","at":"2026-11-01T09:00:00Z"}')]);
    writeFileSync(file, Buffer.concat([bad, Buffer.from('\n')]));
    const rejects = path.join(work, 'latin1.rejects.ndjson');
    const res = await cli('import', file, '--rejects', rejects);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('line 1: not valid UTF-8 (byte 0xE9 at byte 56 of the line): save the file as UTF-8');
    expect(readFileSync(rejects)).toEqual(Buffer.concat([bad, Buffer.from('\n')]));
  });

  it('refuses output paths it cannot write before importing or exporting anything, and a folder given as the file', async () => {
    const file = path.join(work, 'paths.ndjson');
    writeFileSync(file, '{"type":"conversion","event_id":"p1","external_id":"s1","event":"purchase","at":"2026-11-01T09:00:00Z"}\n');
    const missing = await cli('import', file, '--rejects', path.join(work, 'no-such-folder', 'r.ndjson'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--rejects: the folder ${path.join(work, 'no-such-folder')} does not exist; create it first`);
    const folder = await cli('import', file, '--rejects', work);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`--rejects: ${work} is a folder`);
    const asFile = await cli('import', work);
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toContain(`${work} is a folder: give the NDJSON file in it`);
    const out = await cli('export', 'welcome', 'entries', '--out', path.join(work, 'no-such-folder', 'e.csv'));
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('--out: the folder');
    for (const res of [missing, folder, asFile, out]) expect(res.stderr).not.toMatch(/\n\s+at /);
    // nothing was imported by the refused runs
    expect(JSON.parse((await cli('import', file, '--json')).stdout.trim())).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('answers usage errors with exit code 2', async () => {
    expect((await cli('import')).code).toBe(2);
    expect((await cli('import', path.join(work, 'missing.ndjson'))).code).toBe(2);
    expect((await cli('report', 'welcome', '--from', '2026-11-01T00:00:00')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
  });

  it('follows a usage error with the usage of that command only, and an unknown command with every command', async () => {
    const bad = await cli('report', 'welcome', '--frobnicate');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Unknown option '--frobnicate'/);
    expect(bad.stderr).toContain('  report <journey> [--from ISO] [--to ISO] [--json]\n      Overview and step metrics');
    expect(bad.stderr).toContain('`npm run cli -- help` lists every command.');
    expect(bad.stderr).not.toContain('journeys [--json]');
    const digest = await cli('digest', 'frobnicate');
    expect(digest.stderr).toContain('  digest run-due [--now ISO] [--json]');
    expect(digest.stderr).not.toContain('  report <journey>');
    const unknown = await cli('frobnicate');
    expect(unknown.stderr).toContain('Commands:');
    expect(unknown.stderr).toContain('  report <journey>');
  });

  it('says a period bound may also be a date alone', async () => {
    const res = await cli('report', 'welcome', '--from', 'yesterday');
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(
      /^--from: "yesterday" is not an ISO-8601 timestamp \(expected like 2026-11-01T09:00:00Z\), or a date alone, like 2026-11-01, for its midnight in UTC/,
    );
  });

  it('refuses a period outside 1970–2999, which the database could not cut at whole days', async () => {
    const late = await cli('report', 'welcome', '--from', '9999-12-31T12:00:00Z');
    expect(late.code).toBe(2);
    expect(late.stderr).toMatch(/--from: 9999-12-31T12:00:00Z is outside the dates the app answers for: 1970-01-01 to 2999-12-31/);
    expect((await cli('export', 'welcome', 'entries', '--to', '1969-12-31')).code).toBe(2);
    expect((await cli('report', 'welcome', '--from', '2999-12-31', '--to', '3000-01-01', '--json')).stderr).not.toMatch(/outside the dates/);
  });
});

describe('report and export', () => {
  it('prints exactly the report JSON of the worked example, all time and for 1 November', async () => {
    const all = await cli('report', 'welcome', '--json');
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual(expectedReport.all_time);
    const day = await cli('report', 'Welcome Series', '--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z', '--json');
    expect(JSON.parse(day.stdout)).toEqual(expectedReport['period_2026-11-01']);
  });

  it.each([
    ['converted-users', [], 'expected-converted-users.csv'],
    ['conversion-events', [], 'expected-conversion-events.csv'],
    ['entries', [], 'expected-entries.csv'],
    ['exits', [], 'expected-exits.csv'],
    ['step-users', ['--step', 's1', '--status', 'failed'], 'expected-step-users-s1-failed.csv'],
    ['step-users', ['--step', 's2', '--status', 'shown'], 'expected-step-users-s2-shown.csv'],
  ])('exports %s %j exactly as %s', async (kind, extra, file) => {
    const res = await cli('export', 'welcome', kind, ...extra);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(readFileSync(path.join(fixtures, file), 'utf8'));
    const out = path.join(work, `${kind}-${extra.join('-')}.csv`);
    expect((await cli('export', 'welcome', kind, ...extra, '--out', out)).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(path.join(fixtures, file), 'utf8'));
  });

  it('answers "nothing to export" for a metric that is 0 and writes no file', async () => {
    const out = path.join(work, 'none.csv');
    const res = await cli('export', 'welcome', 'step-users', '--step', 's3', '--status', 'failed', '--out', out);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('Nothing to export: failed users of step s3 of Welcome series (welcome) is 0 for all time.');
    expect(existsSync(out)).toBe(false);
  });

  it('names the closest journeys for an unknown one and exits 1', async () => {
    const res = await cli('report', 'wellcome');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('welcome');
  });

  it('explains a step-users export without a step (a usage error) or with an unknown one', async () => {
    const noStep = await cli('export', 'welcome', 'step-users', '--status', 'failed');
    expect(noStep.code).toBe(2);
    expect(noStep.stderr).toContain('needs a step');
    const unknown = await cli('export', 'welcome', 'step-users', '--step', 's9', '--status', 'failed');
    expect(unknown.stderr).toContain('"s9" is not a step of welcome');
  });

  it('agrees with the metrics engine', async () => {
    const res = await cli('report', 'welcome', '--from', '2026-11-02', '--json');
    const handle = await openCliDatabase();
    try {
      const journey = await loadJourney(handle.db, 'welcome');
      const report = await computeReport(handle.db, journey!, { from: new Date('2026-11-02T00:00:00Z'), to: null });
      expect(JSON.parse(res.stdout)).toEqual(report);
    } finally {
      await handle.close();
    }
  });

  it('lists journeys', async () => {
    const res = await cli('journeys', '--json');
    expect(JSON.parse(res.stdout)).toEqual([{ journey_id: 'welcome', name: 'Welcome series' }]);
  });
});

describe('repair', () => {
  it('recomputes derived values and rollups that went wrong, and the reports are right again', async () => {
    const day = ['--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z'];
    const handle = await openCliDatabase();
    try {
      // What an importer that did not keep these would leave: previous rows, counts and cells out of step.
      await handle.db.execute(sql`update entries set prev_entered_at = null, conversion_count = 0`);
      await handle.db.execute(sql`delete from step_entry_rollups`);
      await handle.db.execute(sql`update entry_revisit_rollups set count = count + 3`);
    } finally {
      await handle.close();
    }
    expect(JSON.parse((await cli('report', 'welcome', '--json')).stdout)).not.toEqual(expectedReport.all_time);
    const res = await cli('repair');
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toMatch(/^Recomputed the derived values and rollups of every journey from the stored events in \d+\.\d s\.\n$/);
    expect(JSON.parse((await cli('report', 'welcome', '--json')).stdout)).toEqual(expectedReport.all_time);
    expect(JSON.parse((await cli('report', 'welcome', ...day, '--json')).stdout)).toEqual(expectedReport['period_2026-11-01']);
    expect((await cli('repair', 'now')).code).toBe(2);
  });
});

describe('as a separate process', () => {
  it('prints only the report JSON on stdout and exits 0', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(repo, 'src/cli.ts'), 'report', 'welcome', '--json'],
      { cwd: repo, env: { ...process.env, ...env, DATABASE_URL: env.DATABASE_URL ?? '' } },
    );
    expect(JSON.parse(stdout)).toEqual(expectedReport.all_time);
  });
});

describe('a database that cannot be opened', () => {
  it('is named in the error (server and database, never the password), not only the driver’s words', async () => {
    const res = await runCliCaptured(['journeys'], { DATABASE_URL: 'postgres://someone:s3cret@127.0.0.1:1/analytics' }, new Date());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Cannot open the database (DATABASE_URL: server 127.0.0.1:1, database analytics): connect ECONNREFUSED');
    expect(res.stderr).not.toContain('s3cret');
  });
});

describe('the README', () => {
  it('shows what Slack shows: its overview and steps samples are the answers to the worked example, verbatim', async () => {
    const ownDb = testDatabaseUrl ? await openTestDb() : undefined;
    const own = ownDb ? ownDb.env : { PGLITE_DIR: path.join(work, 'readme-db') };
    const run = (...args: string[]) => runCliCaptured(args, own, new Date('2026-11-29T12:00:00Z'));
    try {
      expect((await run('import', path.join(fixtures, 'events.ndjson'))).code).toBe(0);
      const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
      // the README's code blocks, each without its opening line (``` and a language, if any)
      const blocks = readme.split('```').filter((_, i) => i % 2 === 1).map((b) => b.slice(b.indexOf('\n') + 1));
      for (const command of ['overview welcome', 'steps welcome']) {
        const answer = await run('slash', command);
        expect(answer.code).toBe(0);
        expect(blocks, `/journey ${command}`).toContain(`${answer.stdout.trimEnd()}\n`);
      }
    } finally {
      await ownDb?.close();
    }
  }, 120_000);
});

describe('answers that say what was wrong, with the documented exit codes', () => {
  let own: Record<string, string>;
  let ownDb: TestDb | undefined;
  const run = (...args: string[]) => runCliCaptured(args, own, new Date('2026-11-08T12:00:00Z'));

  beforeAll(async () => {
    ownDb = testDatabaseUrl ? await openTestDb() : undefined;
    own = ownDb ? ownDb.env : { PGLITE_DIR: path.join(work, 'answers-db') };
    const noconv = path.join(work, 'noconv.ndjson');
    writeFileSync(
      noconv,
      [
        { type: 'journey', journey_id: 'noconv', name: 'No conversions', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [] },
        { type: 'journey_entry', event_id: 'nc-1', journey_id: 'noconv', entry_id: 'e1', external_id: 'u1', at: '2026-11-01T09:00:00Z' },
      ].map((o) => JSON.stringify(o)).join('\n'),
    );
    expect((await run('import', path.join(fixtures, 'events.ndjson'))).code).toBe(0);
    expect((await run('import', noconv)).code).toBe(0);
  });

  afterAll(async () => {
    await ownDb?.close();
  });

  it('slash previews a command that changes settings without saving it, and says so', async () => {
    const added = await run('slash', 'digest add welcome daily 09:00');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain("(a preview: nothing was saved; in Slack this command changes the app's settings)");
    const thresholds = await run('slash', 'thresholds welcome drop=30');
    expect(thresholds.stdout).toContain('nothing was saved');
    expect((await run('digest', 'list')).stdout).toContain('No digests yet');
    expect((await run('slash', 'thresholds welcome')).stdout).not.toContain('drop 30');
    // a command that only reads says nothing of the kind
    expect((await run('slash', 'overview welcome')).stdout).not.toContain('nothing was saved');
  });

  it('slash exits 1 when its answer is a refusal, as report does', async () => {
    const unknown = await run('slash', 'overview nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('(only visible to you)');
    expect((await run('slash', 'overview welcome last-week')).code).toBe(1);
    expect((await run('slash', 'overview welcome')).code).toBe(0);
  });

  it('exits 2 for an export or a schedule that names nothing valid', async () => {
    expect((await run('export', 'welcome', 'step-users')).code).toBe(2);
    expect((await run('export', 'welcome', 'step-users', '--step', 's1')).code).toBe(2);
    expect((await run('digest', 'add', '--channel', 'C0123', '--journey', 'welcome', '--schedule', 'daily 25:00')).code).toBe(2);
    expect((await run('digest', 'add', '--channel', 'C0123', '--journey', 'welcome', '--schedule', 'daily 09:00', '--tz', 'Foo/Bar')).code).toBe(2);
    const blank = await run('digest', 'add', '--channel', ' ', '--journey', 'welcome', '--schedule', 'daily 09:00');
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain('is not a Slack channel id: give one like C0123ABCD');
  });

  it('digest --help prints the digest usage, as every other command does', async () => {
    for (const args of [['digest', '--help'], ['digest', 'add', '--help'], ['digest', 'help']]) {
      const res = await run(...args);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout).toContain('digest add --channel C --journey');
    }
  });

  it('says a journey without a conversion event has no conversion rate and nothing to export, not 0', async () => {
    expect((await run('report', 'noconv')).stdout).toMatch(/Conversion Rate\s+n\/a \(no conversion event set\)/);
    const empty = await run('export', 'noconv', 'converted-users');
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('Nothing to export: converted users of No conversions (noconv). The journey has no conversion event');
    const period = await run('export', 'welcome', 'exits', '--from', '2026-10-01', '--to', '2026-10-02');
    expect(period.stderr).toContain('Nothing to export: exits of Welcome series (welcome) is 0 for 1 Oct 2026 (UTC).');
  });
});
