// Wiring for digests: the Slack client and chart settings from the configuration, and the in-app scheduler —
// node-cron calls runDueDigests once a minute (and once at start, to catch up after downtime); nothing more.
import { WebClient } from '@slack/web-api';
import cron from 'node-cron';
import type { Db } from '../db/client.js';
import type { ChartSettings } from '../jobs/post-digest.js';
import { runDueDigests } from '../jobs/run-due-digests.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export function chartSettingsFrom(config: Pick<Config, 'CHART_RENDERER' | 'QUICKCHART_URL'>): ChartSettings {
  return { renderer: config.CHART_RENDERER, quickchartUrl: config.QUICKCHART_URL };
}

/**
 * The Web API client digests post with. Few in-call retries: a Slack outage should fail the attempt quickly and
 * leave the waiting to the run's own backoff in the database, instead of holding the job for half an hour.
 * Rate limits (429) are still waited out as Retry-After says.
 */
export function createDigestSlackClient(config: Pick<Config, 'SLACK_BOT_TOKEN' | 'SLACK_API_URL'>): WebClient {
  return new WebClient(config.SLACK_BOT_TOKEN, {
    ...(config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {}),
    retryConfig: { retries: 2, factor: 2, minTimeout: 1000, maxTimeout: 5000 },
  });
}

export interface DigestScheduler {
  stop(): Promise<void>;
}

export function startDigestScheduler(options: {
  db: Db;
  config: Config;
  now: () => Date;
  log: Logger;
  client?: WebClient;
}): DigestScheduler {
  const { db, config, now, log } = options;
  const client = options.client ?? createDigestSlackClient(config);
  const charts = chartSettingsFrom(config);
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    try {
      const summary = await runDueDigests({ db, slack: client, now: now(), charts, campaignReportUrl: config.CAMPAIGN_REPORT_URL ?? null, log });
      if (summary.posted.length + summary.failed.length + summary.skipped > 0) {
        log.info(`digests: ${summary.posted.length} posted, ${summary.failed.length} failed, ${summary.skipped} skipped`);
      }
    } catch (err) {
      // The next tick tries again; claims in the database keep a half-done tick from posting twice.
      log.error('digest run failed', err);
    }
  };
  // Every minute on the minute; noOverlap keeps a slow tick (many digests, Slack rate limits) from stacking up.
  const task = cron.schedule('* * * * *', () => (running = tick()), { name: 'journey-digests', noOverlap: true });
  running = tick();
  return {
    stop: async () => {
      await task.stop();
      await task.destroy();
      await running;
    },
  };
}
