// POST /ingest: bearer token, gzip, size limits before and after decompression, the same rules and idempotency
// as the file import, the summary with the first 100 rejected lines, and the CLI sending a file with --url.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { count, gt, max, sql } from 'drizzle-orm';
import { queryRows } from '../../db/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imports } from '../../db/schema.js';
import { computeReport, loadJourney } from '../../reports/metrics.js';
import { ALL_TIME } from '../../reports/report-types.js';
import type { RunningApp } from '../../src/app.js';
import { runCliCaptured } from '../support/run-cli.js';
import { loadConfig } from '../../src/config.js';
import { startLocalServer } from '../../src/local-server.js';
import { createLogger } from '../../src/logger.js';
import { bearerMatches } from '../../src/ops-routes.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const expectedReport = JSON.parse(readFileSync(path.join(fixtures, 'expected-report.json'), 'utf8'));
const TOKEN = 'ingest-token-0123456789abcdef';
const MAX = 100_000;

let db: TestDb;
let app: RunningApp;
let closed: RunningApp;
let work: string;

beforeAll(async () => {
  db = await openTestDb();
  work = mkdtempSync(path.join(tmpdir(), 'ja-ingest-'));
  const base = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error' };
  const log = createLogger('error', () => {});
  const now = () => new Date('2026-11-29T12:00:00Z');
  app = await startLocalServer({ config: loadConfig({ ...base, INGEST_TOKEN: TOKEN, INGEST_MAX_BYTES: String(MAX) }), db: db.db, now, log });
  closed = await startLocalServer({ config: loadConfig(base), db: db.db, now, log });
});

afterAll(async () => {
  await app?.stop();
  await closed?.stop();
  await db?.close();
  rmSync(work, { recursive: true, force: true });
});

const url = (running = app) => `http://127.0.0.1:${running.port}/ingest`;

async function ingest(body: RequestInit['body'], headers: Record<string, string> = {}, running = app) {
  const res = await fetch(url(running), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body, duplex: 'half' } as RequestInit);
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
}

async function importCount(): Promise<number> {
  const [row] = await db.db.select({ n: count() }).from(imports);
  return Number(row?.n ?? 0);
}

const conversions = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'conversion', event_id: `${prefix}-${i}`, external_id: `${prefix}-user-${i}`, event: 'purchase', at: '2026-11-01T09:00:00Z' })).join('\n');

/**
 * A local server on the test database that runs one import at a time (with `env` added), and a way to have an
 * upload of 40,000 lines under way and one of 10 waiting for its turn.
 */
async function startOneAtATime(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const log = createLogger('info', (line) => void lines.push(line));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', INGEST_TOKEN: TOKEN, INGEST_CONCURRENCY: '1', ...env });
  const server = await startLocalServer({ config, db: db.db, now: () => new Date('2026-11-29T12:00:00Z'), log });
  const logged = async (text: string) => {
    while (!lines.some((l) => l.includes(text))) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const runningAndWaiting = async (tag: string) => {
    const running = ingest(conversions(`${tag}-running`, 40_000), {}, server);
    await logged('ingest started');
    const waiting = ingest(conversions(`${tag}-waiting`, 10), {}, server);
    await logged('ingest waiting for a turn');
    return { running, waiting };
  };
  return { server, runningAndWaiting };
}

/** How many conversions are stored whose event_id starts with `prefix`. */
async function storedConversions(prefix: string): Promise<number> {
  const rows = await queryRows<{ n: unknown }>(db.db, sql`select count(*) as n from conversions where event_id like ${`${prefix}%`}`);
  return Number(rows[0]?.n);
}

describe('POST /ingest', () => {
  it('does not exist when INGEST_TOKEN is unset', async () => {
    const res = await ingest('{}', {}, closed);
    expect(res.status).toBe(404);
  });

  it('answers 401 without the token or with a wrong one, and imports nothing', async () => {
    const before = await importCount();
    const body = readFileSync(path.join(fixtures, 'events.ndjson'));
    expect((await fetch(url(), { method: 'POST', body })).status).toBe(401);
    expect((await fetch(url(), { method: 'POST', body, headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await fetch(url(), { method: 'POST', body, headers: { authorization: TOKEN } })).status).toBe(401);
    expect((await fetch(url(), { method: 'POST', body, headers: { authorization: 'Bearer ' } })).status).toBe(401);
    expect(await importCount()).toBe(before);
  });

  it('imports NDJSON with the file import rules: the worked example gives its report, a second post only duplicates', async () => {
    const body = readFileSync(path.join(fixtures, 'events.ndjson'));
    const first = await ingest(body, { 'content-type': 'application/x-ndjson' });
    expect(first.status).toBe(200);
    // 1 journey line + 51 events
    expect(first.json).toMatchObject({ status: 'completed', lines: 52, accepted: 52, duplicates: 0, rejected: 0, rejections: [] });
    const journey = await loadJourney(db.db, 'welcome');
    expect(await computeReport(db.db, journey!, ALL_TIME)).toEqual(expectedReport.all_time);
    const second = await ingest(body);
    // the journey line always counts as accepted; every event is already stored
    expect(second.json).toMatchObject({ accepted: 1, duplicates: 51, rejected: 0 });
    expect(await computeReport(db.db, journey!, ALL_TIME)).toEqual(expectedReport.all_time);
  });

  it('runs INGEST_CONCURRENCY imports at once: the others wait for a turn, and every one is imported', async () => {
    const { server: one } = await startOneAtATime();
    try {
      const [before] = await db.db.select({ last: max(imports.id) }).from(imports);
      const answers = await Promise.all(['turn-a', 'turn-b', 'turn-c'].map((tag) => ingest(conversions(tag, 3000), {}, one)));
      expect(answers.map((a) => [a.status, a.json.accepted])).toEqual(Array(3).fill([200, 3000]));
      const runs = await db.db
        .select({ started: imports.startedAt, finished: imports.finishedAt })
        .from(imports)
        .where(gt(imports.id, before?.last ?? 0))
        .orderBy(imports.startedAt);
      expect(runs).toHaveLength(3);
      // One at a time: each started once the one before had finished.
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.started.getTime()).toBeGreaterThanOrEqual(runs[i - 1]!.finished!.getTime());
    } finally {
      await one.stop();
    }
  }, 60_000);

  it('answers 503 to an upload still waiting for its turn when the app stops, imports nothing of it, and finishes the one under way', async () => {
    const { server: one, runningAndWaiting } = await startOneAtATime();
    let stopped = false;
    try {
      const { running, waiting } = await runningAndWaiting('stop');
      const stopping = one.stop().then(() => (stopped = true));
      const [first, second] = await Promise.all([running, waiting]);
      await stopping;
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ status: 'completed', accepted: 40_000 });
      expect(second.status).toBe(503);
      expect(second.json.error).toMatch(/stopping; send the file again/);
      expect(await storedConversions('stop-waiting-')).toBe(0);
    } finally {
      if (!stopped) await one.stop();
    }
  }, 60_000);

  it('answers 503 with Retry-After to an upload beyond INGEST_QUEUE_MAX waiting ones, and imports the others', async () => {
    const { server: one, runningAndWaiting } = await startOneAtATime({ INGEST_QUEUE_MAX: '1' });
    try {
      const { running, waiting } = await runningAndWaiting('queue');
      const res = await fetch(url(one), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: conversions('queue-refused', 10) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(((await res.json()) as { error: string }).error).toMatch(/1 uploads are already waiting.*INGEST_QUEUE_MAX/);
      const [first, second] = await Promise.all([running, waiting]);
      expect([first.status, first.json.accepted, second.status, second.json.accepted]).toEqual([200, 40_000, 200, 10]);
      expect(await storedConversions('queue-refused-')).toBe(0);
    } finally {
      await one.stop();
    }
  }, 60_000);

  it('takes a gzip body (Content-Encoding: gzip)', async () => {
    const res = await ingest(gzipSync(conversions('gz', 300)), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: 300, duplicates: 0, rejected: 0 });
  });

  it('lists the first 100 rejected lines with their numbers and reasons, and counts them all', async () => {
    const bad = Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? `not json ${i}` : '{"type":"conversion","event_id":"r"}'));
    const lines = [conversions('rj', 1), ...bad];
    const res = await ingest(lines.join('\n'));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: 1, rejected: 150 });
    const rejections = res.json.rejections as Array<{ line: number; reason: string }>;
    expect(rejections).toHaveLength(100);
    expect(rejections[0]).toEqual({ line: 2, reason: 'not valid JSON (a line is one JSON object, starting with {)' });
    expect(rejections[1]).toMatchObject({ line: 3, reason: expect.stringContaining('missing field') });
    expect(rejections[99]!.line).toBe(101);
  });

  it('answers 413 for a body over INGEST_MAX_BYTES and imports nothing of it', async () => {
    const before = await importCount();
    const big = conversions('big', 2000);
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX);
    expect((await ingest(big)).status).toBe(413);
    // without a Content-Length (chunked), the limit holds on what arrives
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    expect((await ingest(chunked)).status).toBe(413);
    expect(await importCount()).toBe(before);
  });

  it('answers 413 for a small gzip body that decompresses past the limit (a zip bomb)', async () => {
    const before = await importCount();
    const bomb = gzipSync(Buffer.alloc(50 * MAX, 0x20));
    expect(bomb.length).toBeLessThan(MAX);
    const res = await ingest(bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.text).toContain('INGEST_MAX_BYTES');
    expect(await importCount()).toBe(before);
  });

  it('answers 400 for a body that is not the gzip it claims, and 415 for an unknown encoding', async () => {
    expect((await ingest('plain text', { 'content-encoding': 'gzip' })).status).toBe(400);
    expect((await ingest('x', { 'content-encoding': 'br' })).status).toBe(415);
  });

  it('refuses the whole body in strict mode when a line is bad (422)', async () => {
    const res = await fetch(`${url()}?strict=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: `${conversions('strict', 3)}\n{"type":"nope"}`,
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ status: 'refused', accepted: 0, rejected: 1 });
  });
});

describe('bearerMatches', () => {
  it.each([
    [`Bearer ${TOKEN}`, true],
    [`bearer ${TOKEN}`, true],
    [`Bearer ${TOKEN} `, true],
    [`Bearer ${TOKEN.slice(0, -1)}`, false],
    [`Bearer ${TOKEN}0`, false],
    [TOKEN, false],
    ['Bearer', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (header, want) => {
    expect(bearerMatches(header, TOKEN)).toBe(want);
  });
});

describe('the CLI sends a file to a running app', () => {
  const cli = (env: Record<string, string>, ...args: string[]) => runCliCaptured(args, env);

  it('imports with --url and --token (no database of its own), and with INGEST_TOKEN from the environment', async () => {
    const file = path.join(work, 'cli.ndjson');
    writeFileSync(file, `${conversions('cli', 20)}\nnot json\n`);
    // PGLITE_DIR points nowhere usable: the CLI must not open a database
    const env = { PGLITE_DIR: '/nonexistent/never/opened' };
    const res = await cli(env, 'import', file, '--url', url(), '--token', TOKEN, '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ accepted: 20, rejected: 1, rejections: [{ line: 21, reason: 'not valid JSON (a line is one JSON object, starting with {)' }] });
    const again = await cli({ ...env, INGEST_TOKEN: TOKEN }, 'import', file, '--url', url());
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 accepted, 20 duplicates skipped, 1 rejected');
  });

  it('says what is wrong with a wrong token or an app without ingest', async () => {
    const file = path.join(work, 'cli2.ndjson');
    writeFileSync(file, conversions('cli2', 2));
    const wrong = await cli({}, 'import', file, '--url', url(), '--token', 'wrong-token-wrong-token');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('refused the token (401)');
    const none = await cli({}, 'import', file, '--url', url(closed), '--token', TOKEN);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('INGEST_TOKEN');
    expect((await cli({}, 'import', file, '--url', url(), '--token', TOKEN, '--rejects', 'x.ndjson')).code).toBe(2);
  });
});
