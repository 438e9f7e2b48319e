// A Postgres outage end to end: the test starts its own server on its own port, stops it under the running
// Slack app and starts it again. Meanwhile the app keeps running, answers "unavailable, try again", and /readyz
// says not ready; afterwards it reconnects by itself.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNAVAILABLE_TEXT } from '../../commands/error-answers.js';
import { createDb, type DbHandle } from '../../db/client.js';
import { importEvents, readLines } from '../../db/import/import-events.js';
import { startSlackApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { loopbackAppEnv, signedRequest, slashCommandBody, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const SECRET = 'outage-signing-secret';
const run = promisify(execFile);

/** The newest Postgres server binaries of this machine, and how to run them (initdb refuses root). */
function findServer(): { bin: string; asPostgres: boolean } | { missing: string } {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => path.join(root, v, 'bin')).find((b) => existsSync(path.join(b, 'initdb')) && existsSync(path.join(b, 'pg_ctl')));
  if (!bin) return { missing: 'no initdb/pg_ctl under /usr/lib/postgresql/*/bin (install the postgresql server package)' };
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
      execFileSync('runuser', ['--help'], { stdio: 'ignore' });
    } catch {
      return { missing: 'running as root, but there is no postgres user or no runuser to start the server as' };
    }
  }
  return { bin, asPostgres };
}

const server = findServer();
const title = 'missing' in server ? `Postgres outage (skipped: ${server.missing})` : 'Postgres outage';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf('missing' in server)(title, () => {
  const { bin, asPostgres } = server as { bin: string; asPostgres: boolean };
  let dir: string;
  let port: number;
  let handle: DbHandle;
  let slack: FakeSlack;
  let app: RunningApp;

  const pgTool = (tool: string, args: string[]) =>
    asPostgres ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);
  const data = () => path.join(dir, 'data');
  const startServer = () =>
    pgTool('pg_ctl', ['-D', data(), '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`, 'start']);
  const stopServer = () => pgTool('pg_ctl', ['-D', data(), '-m', 'fast', '-w', '-t', '60', 'stop']);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ja-outage-'));
    if (asPostgres) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    port = await freePort();
    await pgTool('initdb', ['-D', data(), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await startServer();
    handle = await createDb({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/postgres`, poolSize: 4 });
    await importEvents(handle.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
    slack = await startFakeSlack();
    const config = loadConfig(loopbackAppEnv(slack, SECRET, { SLACK_BOT_TOKEN: 'xoxb-outage', DIGEST_SCHEDULER: 'off' }));
    app = await startSlackApp({ config, db: handle.db, now: () => new Date('2026-11-29T12:00:00Z'), log: createLogger('error', () => {}) });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await slack?.close();
    await handle?.close().catch(() => {});
    await stopServer().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const http = (p: string) => fetch(`http://127.0.0.1:${app.port}${p}`);

  async function answer(text: string, id: string): Promise<string> {
    const signed = signedRequest(SECRET, slashCommandBody({ text, responseUrl: slack.responseUrl(id) }));
    const res = await fetch(`http://127.0.0.1:${app.port}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).toBe(200);
    return JSON.stringify(await slack.waitFor(() => slack.responses.find((r) => r.id === id)?.body, 30_000));
  }

  async function readyStatus(): Promise<number> {
    return (await http('/readyz')).status;
  }

  it('answers, goes unavailable while Postgres is down, and recovers by itself when it is back', async () => {
    expect(await readyStatus()).toBe(200);
    expect(await answer('overview welcome', 'before')).toContain('66.7%');

    await stopServer();
    expect(await readyStatus()).toBe(503);
    const during = await answer('overview welcome', 'during');
    expect(during).toContain(UNAVAILABLE_TEXT);
    expect(during).toContain('"response_type":"ephemeral"');
    // the app itself is still up
    expect((await http('/healthz')).status).toBe(200);
    expect(await readyStatus()).toBe(503);

    await startServer();
    let ready = 0;
    for (let i = 0; i < 120 && ready !== 200; i++) {
      ready = await readyStatus();
      if (ready !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(ready).toBe(200);
    expect(await answer('overview welcome', 'after')).toContain('66.7%');
  }, 180_000);
});
