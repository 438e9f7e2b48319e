// Local mode (no Slack credentials): the console in the browser, plus a text preview, on loopback by default.
import express from 'express';
import type { Db } from '../db/client.js';
import type { RunningApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { consoleAccess, consoleRouter, consoleTokenGuard } from './console-server.js';
import { createInFlight, type InFlight } from './in-flight.js';
import { listen } from './listen.js';
import { ingestSettings, opsRoutes } from './ops-routes.js';
import { previewCommand } from './preview.js';

export async function startLocalServer(options: { config: Config; db: Db; now: () => Date; log: Logger; inFlight?: InFlight }): Promise<RunningApp> {
  const { config, db, now, log } = options;
  const inFlight = options.inFlight ?? createInFlight();
  const host = config.HOST ?? '127.0.0.1';
  const access = consoleAccess(host, config.CONSOLE_TOKEN);
  if (!access.ok) throw new Error(access.reason);
  const deps = { db, now, campaignReportUrl: config.CAMPAIGN_REPORT_URL };
  const web = express();
  let selfUrl = '';
  web.get('/healthz', (_req, res) => {
    res.json({ ok: true, mode: 'local' });
  });
  const ops = express.Router();
  opsRoutes(ops, { db, log, inFlight, ...ingestSettings(config) });
  web.use(ops);
  // GET /preview?command=overview%20welcome&tz=Europe/Istanbul — the answer the app would post, as text.
  // Behind the console's token: it answers every command, exports (External IDs) included.
  web.get('/preview', consoleTokenGuard(config.CONSOLE_TOKEN), async (req, res) => {
    const command = typeof req.query.command === 'string' ? req.query.command : 'help';
    const tz = typeof req.query.tz === 'string' ? req.query.tz : config.DEFAULT_TZ;
    res.type('text/plain; charset=utf-8');
    const { error } = await previewCommand(deps, command, { tz, write: (chunk) => void res.write(chunk) });
    if (error) log.error(`preview of "${command}" failed`, error);
    res.end();
  });
  web.use(
    consoleRouter({
      deps: {
        ...deps,
        // Local mode has one person at the keyboard: every export is allowed (and still recorded).
        policy: { allowedUsers: [], allowedChannels: [] },
        gzipAbove: config.EXPORT_GZIP_BYTES,
        log,
        answerTimeoutMs: 20_000,
        // The console makes no request off this machine: digest charts are drawn in-process.
        charts: { renderer: 'local', quickchartUrl: config.QUICKCHART_URL },
      },
      selfUrl: () => selfUrl,
      defaultTz: config.DEFAULT_TZ,
      token: config.CONSOLE_TOKEN,
    }),
  );
  web.get('/', (_req, res) => {
    res.redirect('/console/');
  });
  const server = await listen(web, config.PORT, host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  // The in-process Web API stand-in is called where the server listens: on ::1 or a LAN address, not 127.0.0.1.
  const literal = typeof address === 'object' && address ? address.address : shown;
  const selfHost = literal === '0.0.0.0' ? '127.0.0.1' : literal === '::' ? '::1' : literal;
  selfUrl = `http://${selfHost.includes(':') ? `[${selfHost}]` : selfHost}:${port}`;
  log.info(`Local console: http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/console/ (Ctrl+C stops)`);
  const stop = async () => {
    // Stopping from the first moment: an upload still waiting for its turn is answered 503. Then refuses new
    // connections and waits for open requests (an ingest under way), then for work they started.
    inFlight.markStopping();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await inFlight.drain();
  };
  return { port, stop };
}
