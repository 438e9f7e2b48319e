// Crash safety with real processes: an import SIGKILLed at random moments and run again ends with exactly the
// metrics of an uninterrupted import; SIGTERM stops the app gracefully mid-ingest; one process per embedded
// database, with stale locks (SIGKILL) and half-initialised folders recovered.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, queryRows, toCount, type Db } from '../../db/client.js';
import { generateDemoEvents } from '../../db/demo-data.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { listJourneyNames } from '../../reports/journey-lookup.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { ALL_TIME } from '../../reports/report-types.js';
import { runNode, type Child } from '../support/child-process.js';
import { openTestDb, testDatabaseUrl, type TestDb } from '../support/test-db.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const TOKEN = 'crash-test-ingest-token-0123';
let work: string;
let bigFile: string;
let bigLines: number;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'ja-crash-'));
  bigFile = path.join(work, 'big.ndjson');
  // ≈ 26,000 lines: five journeys over six weeks, every event type, re-entries and late conversions.
  const lines = [...generateDemoEvents({ now: NOW, seed: 11, scale: 1 })];
  bigLines = lines.length;
  writeFileSync(bigFile, `${lines.join('\n')}\n`);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Every report field of every journey, all time: what an interrupted import must reproduce exactly. */
async function allReports(db: Db) {
  const reports: Record<string, unknown> = {};
  for (const { journeyId } of await listJourneyNames(db)) {
    reports[journeyId] = await computeReport(db, (await loadJourney(db, journeyId))!, ALL_TIME);
  }
  return reports;
}

async function tableCounts(db: Db) {
  const tables = ['users', 'entries', 'step_entries', 'messages', 'step_outcomes', 'conversions', 'conversion_attributions', 'first_conversions', 'event_ids'];
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const [row] = await queryRows<{ n: unknown }>(db, sql.raw(`select count(*) as n from ${t}`));
    counts[t] = toCount(row?.n);
  }
  return counts;
}

const between = (min: number, max: number) => Math.round(min + Math.random() * (max - min));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh target database for child processes: a PGlite folder, or a database of its own on the server. */
async function freshTarget(name: string): Promise<{ env: Record<string, string>; open: () => Promise<{ db: Db; close(): Promise<void> }>; dispose(): Promise<void> }> {
  if (testDatabaseUrl) {
    const target: TestDb = await openTestDb();
    return { env: target.env, open: async () => ({ db: target.db, close: async () => {} }), dispose: () => target.close() };
  }
  const dir = path.join(work, name);
  return { env: { PGLITE_DIR: dir }, open: () => createDb({ kind: 'pglite', dir }), dispose: async () => {} };
}

describe('an import killed with SIGKILL at random moments', () => {
  it('run again, ends with exactly the metrics of an uninterrupted import', async () => {
    const reference = await openTestDb();
    await importEvents(reference.db, readLines(bigFile), { source: 'reference' });
    const expected = await allReports(reference.db);
    const expectedCounts = await tableCounts(reference.db);
    await reference.close();
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(5);

    const target = await freshTarget('killed');
    const lockFile = `${target.env.PGLITE_DIR}.lock`;
    const kills: string[] = [];
    for (let round = 0; round < 3; round++) {
      const run: Child = runNode('src/cli.ts', ['import', bigFile, '--batch-size', '1000'], target.env);
      // The first kill may land anywhere from start-up on (module loading, initdb, migrations); the others
      // once batches are being committed.
      if (round === 0) await sleep(between(300, 4000));
      else {
        await run.waitFor(/… [\d,]+ lines/).catch(() => undefined);
        await sleep(between(0, 1500));
      }
      run.child.kill('SIGKILL');
      const { signal } = await run.exited;
      const progress = run.stderr().match(/… ([\d,]+) lines/g)?.at(-1) ?? 'before any progress';
      kills.push(`round ${round + 1}: ${signal ?? 'finished'} at ${progress}${!testDatabaseUrl && existsSync(lockFile) ? ' (lock left behind)' : ''}`);
    }
    const staleLock = !testDatabaseUrl && existsSync(lockFile);
    const final = runNode('src/cli.ts', ['import', bigFile, '--json'], target.env);
    const { code } = await final.exited;
    expect(code, `${kills.join('\n')}\n${final.stderr()}`).toBe(0);
    // the killed holder's lock was detected as stale and cleared, with a notice
    if (staleLock) expect(final.stderr()).toContain('Cleared the stale lock');
    const summary = JSON.parse(final.stdout().trim().split('\n').at(-1)!) as { lines: number; rejected: number };
    expect(summary).toMatchObject({ lines: bigLines, rejected: 0 });

    const handle = await target.open();
    try {
      expect(await tableCounts(handle.db), kills.join('\n')).toEqual(expectedCounts);
      expect(await allReports(handle.db), kills.join('\n')).toEqual(expected);
    } finally {
      await handle.close();
      await target.dispose();
    }
  }, 300_000);
});

describe('SIGINT (Ctrl+C) during a CLI import', () => {
  it('stops before the next line, keeps whole batches, leaves no temporary file, and the same command completes it', async () => {
    const target = await freshTarget('sigint');
    const temp = mkdtempSync(path.join(work, 'tmp-'));
    const file = path.join(work, 'sigint.ndjson');
    // An entry of a journey defined only at the end waits in the spool (a temporary file); many conversions after it.
    const lines = [
      JSON.stringify({ type: 'journey_entry', event_id: 'late-en', journey_id: 'late', entry_id: 'e1', external_id: 'u1', at: '2026-11-01T09:00:00Z' }),
      ...Array.from({ length: 150_000 }, (_, i) => JSON.stringify({ type: 'conversion', event_id: `c${i}`, external_id: `u${i % 500}`, event: 'purchase', at: '2026-11-01T10:00:00Z' })),
      JSON.stringify({ type: 'journey', journey_id: 'late', name: 'Late', conversion_event: 'purchase', attribution_window_hours: 24, reentry: true, steps: [] }),
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const rejects = path.join(work, 'sigint.rejects.ndjson');
    try {
      const run = runNode('src/cli.ts', ['import', file, '--batch-size', '2000', '--rejects', rejects], { ...target.env, TMPDIR: temp });
      await run.waitFor(/… [\d,]+ lines/);
      expect(readdirSync(temp).some((f) => f.startsWith('journey-import-')), 'the spool exists while the import runs').toBe(true);
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code, run.stderr()).toBe(130);
      expect(run.stderr()).toContain('Stopped: what was imported before is kept, in whole batches. Run the same command again');
      expect(run.stderr()).not.toMatch(/\n\s+at /);
      expect(readdirSync(temp).filter((f) => f.startsWith('journey-import-'))).toEqual([]);
      expect(existsSync(`${rejects}.partial`)).toBe(false);

      const again = runNode('src/cli.ts', ['import', file, '--json'], { ...target.env, TMPDIR: temp });
      expect((await again.exited).code, again.stderr()).toBe(0);
      const summary = JSON.parse(again.stdout().trim().split('\n').at(-1)!) as { accepted: number; duplicates: number; rejected: number };
      expect(summary.rejected).toBe(0);
      expect(summary.duplicates).toBeGreaterThan(0);
      const handle = await target.open();
      try {
        expect(await tableCounts(handle.db)).toMatchObject({ conversions: 150_000, entries: 1, event_ids: 150_001 });
      } finally {
        await handle.close();
      }
    } finally {
      await target.dispose();
    }
  }, 180_000);
});

describe('SIGTERM', () => {
  it('during an ingest: no new connections, the import finishes and is answered, the database closes, exit 0', async () => {
    const target = await freshTarget('sigterm');
    // A journey already stored, so local mode does not load its demo data first.
    const seed = await target.open();
    await importEvents(seed.db, (async function* () {
      yield JSON.stringify({ type: 'journey', journey_id: 'seeded', name: 'Seeded', conversion_event: null, attribution_window_hours: 0, reentry: true, steps: [] });
    })(), { source: 'seed' });
    await seed.close();

    const app = runNode('src/main.ts', [], { ...target.env, PORT: '0', HOST: '127.0.0.1', INGEST_TOKEN: TOKEN, LOG_LEVEL: 'info' });
    try {
      const port = (await app.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/console/))[1];
      const answer = fetch(`http://127.0.0.1:${port}/ingest`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: readFileSync(bigFile) });
      await app.waitFor(/ingest started/);
      app.child.kill('SIGTERM');
      await app.waitFor(/SIGTERM: stopping/);
      // stopped accepting: a new connection is refused while the import is still running
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      const res = await answer;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'completed', lines: bigLines, accepted: bigLines, rejected: 0 });
      const { code } = await app.exited;
      expect(code, app.stderr()).toBe(0);
      expect(app.stderr()).toContain('stopped: the database is closed');
      if (!testDatabaseUrl) expect(existsSync(`${target.env.PGLITE_DIR}.lock`)).toBe(false);
    } finally {
      app.child.kill('SIGKILL');
    }
    const handle = await target.open();
    try {
      const [row] = await queryRows<{ n: unknown }>(handle.db, sql`select count(*) as n from event_ids`);
      // every line but the five journey definitions carries an event_id
      expect(toCount(row?.n)).toBe(bigLines - 5);
    } finally {
      await handle.close();
      await target.dispose();
    }
  }, 180_000);
});

// The lock guards the embedded database only; these run in the PGlite pass of the suite.
describe.skipIf(testDatabaseUrl)('one embedded database, one process', () => {
  const small = () => {
    const file = path.join(work, 'small.ndjson');
    writeFileSync(file, `${JSON.stringify({ type: 'conversion', event_id: 'lock-1', external_id: 'u-lock', event: 'purchase', at: '2026-11-01T09:00:00Z' })}\n`);
    return file;
  };

  async function waitForLock(lockFile: string, pid: number): Promise<void> {
    for (let i = 0; i < 1200; i++) {
      if (existsSync(lockFile) && readFileSync(lockFile, 'utf8').includes(`"pid":${pid}`)) return;
      await sleep(50);
    }
    throw new Error(`process ${pid} never took ${lockFile}`);
  }

  it('refuses a second CLI at once, naming the first process and what to do', async () => {
    const dir = path.join(work, 'two-clis');
    const first = runNode('src/cli.ts', ['import', bigFile, '--batch-size', '1000'], { PGLITE_DIR: dir });
    try {
      await waitForLock(`${dir}.lock`, first.child.pid!);
      const second = runNode('src/cli.ts', ['import', small()], { PGLITE_DIR: dir });
      const { code } = await second.exited;
      expect(code).toBe(1);
      expect(second.stderr()).toContain(`in use by process ${first.child.pid}`);
      expect(second.stderr()).toContain('src/cli.ts import');
      expect(second.stderr()).toContain('--url');
      // a command that sends no file is told what it can do, and not to send one
      const third = runNode('src/cli.ts', ['journeys'], { PGLITE_DIR: dir });
      expect((await third.exited).code).toBe(1);
      expect(third.stderr()).toContain(`in use by process ${first.child.pid}`);
      expect(third.stderr()).toContain('wait for that process to finish or stop it, or point DATABASE_URL at a Postgres server');
      expect(third.stderr()).not.toContain('ingest');
      // refused while the first still runs: it did not wait for the folder
      expect(first.child.exitCode).toBeNull();
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
  }, 120_000);

  it('refuses the CLI while the app runs, names the app’s ingest URL, which takes the file; a SIGKILLed app’s lock is cleared by the next start', async () => {
    const dir = path.join(work, 'app-lock');
    const seed = await createDb({ kind: 'pglite', dir });
    await importEvents(seed.db, readLines(small()), { source: 'seed' });
    await seed.close();
    const app = runNode('src/main.ts', [], { PGLITE_DIR: dir, PORT: '0', HOST: '127.0.0.1', INGEST_TOKEN: TOKEN });
    try {
      const port = (await app.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\/console/))[1];
      await waitForLock(`${dir}.lock`, app.child.pid!);
      await sleep(200);
      const refused = runNode('src/cli.ts', ['import', small()], { PGLITE_DIR: dir });
      expect((await refused.exited).code).toBe(1);
      expect(refused.stderr()).toContain(`in use by process ${app.child.pid}`);
      expect(refused.stderr()).toContain('src/main.ts');
      const suggested = `--url http://127.0.0.1:${port}/ingest`;
      expect(refused.stderr()).toContain(suggested);

      const file = path.join(work, 'via-app.ndjson');
      writeFileSync(file, `${JSON.stringify({ type: 'conversion', event_id: 'via-app-1', external_id: 'u-app', event: 'purchase', at: '2026-11-01T09:00:00Z' })}\n`);
      const sent = runNode('src/cli.ts', ['import', file, ...suggested.split(' '), '--json'], { PGLITE_DIR: dir, INGEST_TOKEN: TOKEN });
      expect((await sent.exited).code, sent.stderr()).toBe(0);
      expect(JSON.parse(sent.stdout().trim())).toMatchObject({ accepted: 1 });

      app.child.kill('SIGKILL');
      await app.exited;
      // the killed app could not remove its lock
      expect(readFileSync(`${dir}.lock`, 'utf8')).toContain(`"pid":${app.child.pid}`);
      const next = runNode('src/cli.ts', ['journeys'], { PGLITE_DIR: dir });
      expect((await next.exited).code, next.stderr()).toBe(0);
      expect(next.stderr()).toContain(`Cleared the stale lock ${dir}.lock of process ${app.child.pid}`);
      expect(existsSync(`${dir}.lock`)).toBe(false);
    } finally {
      app.child.kill('SIGKILL');
    }
  }, 180_000);

  it('a first start in a fresh checkout, where not even the folder around the database exists yet, creates it', async () => {
    // As `npm start` finds ./.data/pglite in a fresh clone: the lock file beside the folder needs its parent too.
    const dir = path.join(work, 'fresh-checkout', '.data', 'pglite');
    const first = runNode('src/cli.ts', ['journeys'], { PGLITE_DIR: dir });
    expect((await first.exited).code, first.stderr()).toBe(0);
    expect(first.stdout()).toContain('No journeys yet');
    expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  }, 120_000);

  it('a first start SIGKILLed while it builds the folder leaves no half folder: the next start succeeds', async () => {
    const dir = path.join(work, 'first-start');
    const first = runNode('src/cli.ts', ['journeys'], { PGLITE_DIR: dir });
    for (let i = 0; i < 1200 && !existsSync(`${dir}.initialising`) && first.child.exitCode === null; i++) await sleep(10);
    expect(existsSync(`${dir}.initialising`), first.stderr()).toBe(true);
    first.child.kill('SIGKILL');
    await first.exited;
    // the folder the app opens was never touched: only the one being built beside it
    expect(existsSync(dir) && readdirSync(dir).length > 0).toBe(false);
    const next = runNode('src/cli.ts', ['journeys'], { PGLITE_DIR: dir });
    expect((await next.exited).code, next.stderr()).toBe(0);
    expect(next.stdout()).toContain('No journeys yet');
    expect(existsSync(`${dir}.initialising`)).toBe(false);
    expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
  }, 120_000);

  it('moves a half-initialised folder (no PG_VERSION) aside with a notice and starts fresh', async () => {
    const dir = path.join(work, 'half');
    mkdirSync(path.join(dir, 'base'), { recursive: true });
    writeFileSync(path.join(dir, 'base', 'leftover'), 'from an initdb that was killed');
    const notices: string[] = [];
    const handle = await createDb({ kind: 'pglite', dir }, (m) => notices.push(m));
    try {
      expect(notices.join('\n')).toMatch(/never fully initialised \(no PG_VERSION, no global\/pg_control\); moved it to .*half\.incomplete-\d+/);
      const aside = readdirSync(work).find((f) => f.startsWith('half.incomplete-'))!;
      expect(readFileSync(path.join(work, aside, 'base', 'leftover'), 'utf8')).toContain('killed');
      expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
      await handle.db.execute(sql`select 1`);
    } finally {
      await handle.close();
    }
  }, 120_000);
});

// Starting fails plainly: one line saying what to do, the exit code 1, the database's folder left unlocked.
describe.skipIf(testDatabaseUrl)('npm start that cannot start', () => {
  const stackLine = /\n\s+at \S+ \(/;

  it('on a port another program holds: says so and exits 1, instead of announcing the console and ending with 0', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dir = path.join(work, 'port-taken');
    try {
      const app = runNode('src/main.ts', [], { PGLITE_DIR: dir, PORT: String(port), HOST: '127.0.0.1' });
      expect((await app.exited).code, app.stdout() + app.stderr()).toBe(1);
      const said = app.stdout() + app.stderr();
      expect(said).toContain(`Cannot listen on 127.0.0.1:${port}: another program uses that port. Stop it, or set PORT to a free port.`);
      expect(said).not.toContain('Local console:');
      expect(said).not.toMatch(stackLine);
      expect(existsSync(`${dir}.lock`)).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  }, 120_000);

  it('with a bot token but neither a signing secret nor an app token: names the missing variable, opens nothing', async () => {
    const dir = path.join(work, 'no-secret');
    const app = runNode('src/main.ts', [], { PGLITE_DIR: dir, PORT: '0', SLACK_BOT_TOKEN: 'xoxb-half', SLACK_SIGNING_SECRET: '', SLACK_APP_TOKEN: '' });
    expect((await app.exited).code).toBe(1);
    expect(app.stderr()).toContain('SLACK_SIGNING_SECRET is missing: it is needed with SLACK_BOT_TOKEN in HTTP mode');
    expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it('with a console other machines could reach and no CONSOLE_TOKEN: says so before opening anything, no stack trace', async () => {
    const dir = path.join(work, 'open-console');
    const app = runNode('src/main.ts', [], { PGLITE_DIR: dir, PORT: '0', HOST: '0.0.0.0', CONSOLE_TOKEN: '' });
    expect((await app.exited).code).toBe(1);
    const said = app.stdout() + app.stderr();
    expect(said).toContain('The local console would listen on 0.0.0.0');
    expect(said).toContain('Set CONSOLE_TOKEN');
    expect(said).not.toMatch(stackLine);
    // refused before the database was opened (or the demo data loaded)
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  }, 60_000);
});
