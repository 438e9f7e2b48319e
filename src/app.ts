// Builds the Bolt app (HTTP or Socket Mode) with its listeners and the HTTP routes that need no Slack.
import type { Server } from 'node:http';
import { App, ExpressReceiver, type LogLevel } from '@slack/bolt';
import express from 'express';
import { register } from '../commands/index.js';
import { createTimeZoneLookup } from '../commands/user-time-zone.js';
import type { Db } from '../db/client.js';
import type { Config } from './config.js';
import { chartSettingsFrom, startDigestScheduler } from './digest-scheduler.js';
import { createInFlight, type InFlight } from './in-flight.js';
import { boltLogger, type Logger } from './logger.js';
import { listen } from './listen.js';
import { ingestSettings, opsRoutes } from './ops-routes.js';
import { installSlackGuard } from './slack-guard.js';


export interface SlackAppOptions {
  config: Config;
  db: Db;
  now: () => Date;
  log: Logger;
  /** Work the app has started and a stop waits for; one is made when not given. */
  inFlight?: InFlight;
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
  const inFlight = options.inFlight ?? createInFlight();
  // Bolt's LogLevel values are these same four words.
  const boltLogLevel = config.LOG_LEVEL as LogLevel;
  const logger = boltLogger(log, config.LOG_LEVEL);
  const clientOptions = {
    ...(config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {}),
    // 429s are waited out as Retry-After says; 5xx answers, network errors and calls Slack does not answer in
    // time are retried a few times with growing pauses instead of the default half hour. Posts go through
    // postMessageOnce, which never repeats a post Slack may already have made.
    retryConfig: { retries: 4, factor: 2, minTimeout: 500, maxTimeout: 8000, randomize: true },
    timeout: config.SLACK_API_TIMEOUT_MS,
  };
  const ops = { db, log, inFlight, ...ingestSettings(config) };
  const guard = { teamId: config.SLACK_TEAM_ID, appId: config.SLACK_APP_ID };
  const host = config.HOST ?? '0.0.0.0';
  const deps = {
    db,
    now,
    campaignReportUrl: config.CAMPAIGN_REPORT_URL,
    policy: { allowedUsers: config.EXPORT_ALLOWED_USERS, allowedChannels: config.EXPORT_ALLOWED_CHANNELS, perUserPerHour: config.EXPORT_RATE_LIMIT },
    gzipAbove: config.EXPORT_GZIP_BYTES,
    log,
    userTimeZone: createTimeZoneLookup({ defaultTz: config.DEFAULT_TZ, ttlMs: 60 * 60 * 1000, now }),
    answerTimeoutMs: 20_000,
    slackTimeoutMs: config.SLACK_API_TIMEOUT_MS,
    charts: chartSettingsFrom(config),
  };

  // One workspace, one bot token: answering needs nothing else, so no auth.test runs before a request (a Slack
  // API that is slow or partial, such as a proxy or a test double, must not hold every command up).
  const authorize = async () => ({ botToken: config.SLACK_BOT_TOKEN });

  if (config.SLACK_APP_TOKEN) {
    const app = new App({ authorize, appToken: config.SLACK_APP_TOKEN, socketMode: true, logger, logLevel: boltLogLevel, clientOptions });
    installSlackGuard(app, guard, inFlight, log);
    register(app, deps);
    app.error(async (err) => log.error('unhandled Slack listener error', err));
    const web = express();
    const router = express.Router();
    healthRoutes(router);
    opsRoutes(router, ops);
    web.use(router);
    // The port first: a port in use stops the start before Slack sends events that nothing would then serve.
    const server = await listen(web, config.PORT, host);
    try {
      await app.start();
    } catch (err) {
      await close(server);
      throw err;
    }
    log.info(`Socket Mode connected; health check on http://${host}:${portOf(server)}/healthz`);
    const stop = async () => {
      inFlight.markStopping();
      await app.stop();
      await close(server);
      // After closing: also the work that arrived while the connection and the server closed.
      await inFlight.drain();
    };
    return withDigestScheduler({ port: portOf(server), stop }, options, inFlight);
  }

  const receiver = new ExpressReceiver({
    signingSecret: config.SLACK_SIGNING_SECRET!,
    endpoints: '/slack/events',
    logger,
    logLevel: boltLogLevel,
  });
  healthRoutes(receiver.router);
  opsRoutes(receiver.router, ops);
  const app = new App({ authorize, receiver, logger, logLevel: boltLogLevel, clientOptions });
  installSlackGuard(app, guard, inFlight, log);
  register(app, deps);
  app.error(async (err) => log.error('unhandled Slack listener error', err));
  const server = (await receiver.start({ port: config.PORT, host })) as Server;
  log.info(`Slack app listening on http://${host}:${portOf(server)}/slack/events`);
  const stop = async () => {
    // Stopping from the first moment (an upload still waiting for its turn is answered 503). Closing the server
    // refuses new requests and waits for open ones (an ingest under way); then the answers still running, also
    // those of requests that arrived while it closed.
    inFlight.markStopping();
    await receiver.stop();
    await inFlight.drain();
  };
  return withDigestScheduler({ port: portOf(server), stop }, options, inFlight);
}

/** Runs the digest scheduler beside the app (unless DIGEST_SCHEDULER=off) and stops it first when the app stops. */
function withDigestScheduler(running: RunningApp, options: SlackAppOptions, inFlight: InFlight): RunningApp {
  if (options.config.DIGEST_SCHEDULER === 'off') return running;
  const scheduler = startDigestScheduler(options);
  return {
    port: running.port,
    stop: async () => {
      // Stopping from the first moment, also while a digest tick under way finishes.
      inFlight.markStopping();
      await scheduler.stop();
      await running.stop();
    },
  };
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
