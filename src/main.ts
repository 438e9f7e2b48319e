// npm start: the Slack app when Slack credentials are configured; otherwise local mode on the embedded database.
import { count } from 'drizzle-orm';
import { createDb, type DbHandle } from '../db/client.js';
import { loadDemoData } from '../db/demo-data.js';
import { journeys } from '../db/schema.js';
import { startSlackApp, type RunningApp } from './app.js';
import { ConfigError, dbConfigFrom, describeDatabase, loadConfig, type Config } from './config.js';
import { consoleAccess } from './console-server.js';
import { listenFailure } from './listen.js';
import { startLocalServer } from './local-server.js';
import { createLogger, secretsOf } from './logger.js';

let config: Config;
try {
  config = loadConfig(process.env, { app: true });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

// Refused before anything is opened or loaded: a local console that other machines could reach needs a token.
const access = config.SLACK_BOT_TOKEN ? ({ ok: true } as const) : consoleAccess(config.HOST ?? '127.0.0.1', config.CONSOLE_TOKEN);
if (!access.ok) {
  process.stderr.write(`${access.reason}\n`);
  process.exit(1);
}

const log = createLogger(config.LOG_LEVEL, undefined, { secrets: secretsOf(config) });
const now = () => new Date();
const dbConfig = dbConfigFrom(config);
let handle: DbHandle;
try {
  handle = await createDb(dbConfig, (msg) => log.warn(msg));
} catch (err) {
  log.error(`Cannot open the database (${describeDatabase(config)})`, err);
  process.exit(1);
}
const { db } = handle;
// The embedded database's thread gone (out of memory, say) leaves every query failing: better started again.
void handle.lost?.then((err) => {
  log.error('The embedded database stopped; exiting so that the app is started again', err);
  process.exit(1);
});

async function start(): Promise<RunningApp> {
  if (config.SLACK_BOT_TOKEN) return startSlackApp({ config, db, now, log });
  const [row] = await db.select({ n: count() }).from(journeys);
  if (Number(row?.n ?? 0) === 0) {
    log.info('The database is empty: loading demo data (five journeys, six weeks)…');
    const summary = await loadDemoData(db, { now: now() });
    log.info(`Demo data loaded: ${summary.accepted.toLocaleString('en-US')} events.`);
  }
  return startLocalServer({ config, db, now, log });
}

let running: RunningApp;
try {
  running = await start();
} catch (err) {
  // Said plainly, and the database closed (its folder's lock released) before the exit.
  const plain = listenFailure(err, config.HOST ?? (config.SLACK_BOT_TOKEN ? '0.0.0.0' : '127.0.0.1'), config.PORT);
  if (plain) log.error(plain);
  else log.error('The app could not start', err);
  await handle.close().catch(() => {});
  process.exit(1);
}
if (config.INGEST_TOKEN) {
  // The same machine is the only one that can share the folder: name the loopback address for it.
  const host = config.HOST === undefined || config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  handle.noteIngestUrl?.(`http://${host.includes(':') ? `[${host}]` : host}:${running.port}/ingest`);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info(`${signal}: stopping — no new requests; commands, imports and digest posts under way finish first`);
  await running.stop().catch((err: unknown) => log.error('stopping the server failed', err));
  await handle.close().catch((err: unknown) => log.error('closing the database failed', err));
  log.info('stopped: the database is closed');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
