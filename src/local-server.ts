// Local mode (no Slack credentials): a loopback HTTP server that answers /journey commands as text.
import type { Server } from 'node:http';
import express from 'express';
import type { Db } from '../db/client.js';
import type { RunningApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { previewCommand } from './preview.js';

export async function startLocalServer(options: { config: Config; db: Db; now: () => Date; log: Logger }): Promise<RunningApp> {
  const { config, db, now, log } = options;
  const host = config.HOST ?? '127.0.0.1';
  const deps = { db, now, campaignReportUrl: config.CAMPAIGN_REPORT_URL };
  const web = express();
  web.get('/healthz', (_req, res) => {
    res.json({ ok: true, mode: 'local' });
  });
  // GET /preview?command=overview%20welcome&tz=Europe/Istanbul — the answer the app would post, as text.
  web.get('/preview', async (req, res) => {
    const command = typeof req.query.command === 'string' ? req.query.command : 'help';
    const tz = typeof req.query.tz === 'string' ? req.query.tz : config.DEFAULT_TZ;
    res.type('text/plain; charset=utf-8');
    const { error } = await previewCommand(deps, command, { tz, write: (chunk) => void res.write(chunk) });
    if (error) log.error(`preview of "${command}" failed`, error);
    res.end();
  });
  web.get('/', (_req, res) => {
    res.type('text/plain; charset=utf-8').send(
      [
        'Journey Analytics — local mode (no Slack credentials configured).',
        '',
        'See what /journey answers, as text:',
        `  http://${host}:${config.PORT}/preview?command=list`,
        `  http://${host}:${config.PORT}/preview?command=overview%20welcome`,
        `  http://${host}:${config.PORT}/preview?command=steps%20welcome%2030d`,
        '',
        'Set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README) to run against Slack.',
      ].join('\n'),
    );
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = web.listen(config.PORT, host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  log.info(`Local mode: open http://${host}:${port}/ (answers of /journey as text; Ctrl+C stops)`);
  return { port, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
