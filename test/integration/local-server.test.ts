// Local mode over HTTP, without a browser: what its token guards, how it answers bad requests, and that the
// console works when it listens somewhere other than 127.0.0.1.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importEvents, readLines } from '../../db/import/import-events.js';
import type { RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startLocalServer } from '../../src/local-server.js';
import { createLogger } from '../../src/logger.js';
import { openTestDb, type TestDb } from '../support/test-db.js';

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const TOKEN = 'local-console-token-0123';
const NOW = new Date('2026-11-08T12:00:00Z');

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
  await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
});
afterAll(async () => {
  await db?.close();
});

async function serve(env: Record<string, string>, run: (base: string) => Promise<void>): Promise<void> {
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'error', ...env });
  const app: RunningApp = await startLocalServer({ config, db: db.db, now: () => NOW, log: createLogger('error', () => {}) });
  const host = config.HOST ?? '127.0.0.1';
  try {
    await run(`http://${host.includes(':') ? `[${host}]` : host}:${app.port}`);
  } finally {
    await app.stop();
  }
}

describe('local mode with CONSOLE_TOKEN', () => {
  it('guards /preview as it guards the console: it answers every command, exports with External IDs included', async () => {
    await serve({ CONSOLE_TOKEN: TOKEN }, async (base) => {
      const url = `${base}/preview?command=${encodeURIComponent('export welcome converted-users')}`;
      const without = await fetch(url);
      expect(without.status).toBe(401);
      expect(await without.text()).not.toContain('external_id');
      const withToken = await fetch(url, { headers: { 'x-console-token': TOKEN } });
      expect(withToken.status).toBe(200);
      expect(await withToken.text()).toContain('external_id,converted_at,entry_id');
    });
  });

  it('answers a body that is not JSON with a JSON error, not an HTML page with a stack trace', async () => {
    await serve({ CONSOLE_TOKEN: TOKEN }, async (base) => {
      const res = await fetch(`${base}/console/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-console-token': TOKEN },
        body: '{"text":',
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'The request body is not valid JSON.' });
      // The Web API stand-in checks its secret before it reads a body.
      const api = await fetch(`${base}/console/slack-api/not-the-secret/chat.postMessage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":' });
      expect(api.status).toBe(403);
      expect(await api.json()).toEqual({ ok: false, error: 'not_allowed' });
    });
  });
});

describe('local mode on ::1', () => {
  it('posts an export into the console channel: its Web API stand-in is called where the server listens', async () => {
    await serve({ HOST: '::1' }, async (base) => {
      const res = await fetch(`${base}/console/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: '/journey export welcome exits' }),
      });
      expect(res.status).toBe(200);
      const { messages } = (await res.json()) as { messages: Array<{ text: string; files: Array<{ name: string }> }> };
      expect(messages.some((m) => m.files.some((f) => f.name === 'welcome-exits-all-time.csv'))).toBe(true);
      expect(JSON.stringify(messages)).not.toContain('Slack did not take the answer');
    });
  });
});
