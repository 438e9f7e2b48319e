// Builds the Bolt app (HTTP or Socket Mode) with its listeners and the HTTP routes that need no Slack.
import type { Server } from 'node:http';
import { App, ExpressReceiver, type LogLevel } from '@slack/bolt';
import express from 'express';
import { register } from '../commands/index.js';
import { createTimeZoneLookup } from '../commands/user-time-zone.js';
import type { Db } from '../db/client.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';


export interface SlackAppOptions {
  config: Config;
  db: Db;
  now: () => Date;
  log: Logger;
}

export interface RunningApp {
  /** The port the HTTP server listens on (useful when PORT is 0 in tests). */
  port: number;
  stop(): Promise<void>;
}

function healthRoutes(router: express.Router): void {
  router.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
}

export async function startSlackApp(options: SlackAppOptions): Promise<RunningApp> {
  const { config, db, now, log } = options;
  // Bolt's LogLevel values are these same four words.
  const boltLogLevel = config.LOG_LEVEL as LogLevel;
  const clientOptions = config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {};
  const host = config.HOST ?? '0.0.0.0';
  const deps = {
    db,
    now,
    campaignReportUrl: config.CAMPAIGN_REPORT_URL,
    policy: { allowedUsers: config.EXPORT_ALLOWED_USERS, allowedChannels: config.EXPORT_ALLOWED_CHANNELS },
    gzipAbove: config.EXPORT_GZIP_BYTES,
    log,
    userTimeZone: createTimeZoneLookup({ defaultTz: config.DEFAULT_TZ, ttlMs: 60 * 60 * 1000, now }),
    answerTimeoutMs: 20_000,
  };

  if (config.SLACK_APP_TOKEN) {
    const app = new App({ token: config.SLACK_BOT_TOKEN, appToken: config.SLACK_APP_TOKEN, socketMode: true, logLevel: boltLogLevel, clientOptions });
    register(app, deps);
    app.error(async (err) => log.error('unhandled Slack listener error', err));
    await app.start();
    const web = express();
    const router = express.Router();
    healthRoutes(router);
    web.use(router);
    const server = await listen(web, config.PORT, host);
    log.info(`Socket Mode connected; health check on http://${host}:${portOf(server)}/healthz`);
    return { port: portOf(server), stop: async () => { await app.stop(); await close(server); } };
  }

  const receiver = new ExpressReceiver({
    signingSecret: config.SLACK_SIGNING_SECRET!,
    endpoints: '/slack/events',
    logLevel: boltLogLevel,
  });
  healthRoutes(receiver.router);
  const app = new App({ token: config.SLACK_BOT_TOKEN, receiver, logLevel: boltLogLevel, clientOptions });
  register(app, deps);
  app.error(async (err) => log.error('unhandled Slack listener error', err));
  const server = (await receiver.start({ port: config.PORT, host })) as Server;
  log.info(`Slack app listening on http://${host}:${portOf(server)}/slack/events`);
  return { port: portOf(server), stop: () => receiver.stop() };
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function listen(handler: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = handler.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
