// The environment, parsed once at start-up by one zod schema; nothing else reads process.env.
import { z } from 'zod';
import type { DbConfig } from '../db/client.js';
import { isValidTimeZone } from '../reports/periods.js';

const list = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const isHttpUrl = (v: string) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol);

const url = (what: string) =>
  optionalText.refine((v) => v === undefined || URL.canParse(v), `must be a URL (${what})`);

export const envSchema = z.object({
  DATABASE_URL: url('postgres://user:password@host:5432/database').describe(
    'Postgres server to use. Unset: the embedded PGlite database in PGLITE_DIR.',
  ),
  PGLITE_DIR: z.string().default('./.data/pglite').describe('Folder of the embedded database (when DATABASE_URL is unset).'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('HTTP port for Slack requests, /healthz and the local console (0: any free port).'),
  HOST: optionalText.describe('Address to listen on (default 0.0.0.0 with Slack, 127.0.0.1 in local mode).'),
  SLACK_BOT_TOKEN: optionalText.describe('Bot token (xoxb-…). With SLACK_SIGNING_SECRET: the app runs against Slack.'),
  SLACK_SIGNING_SECRET: optionalText.describe('Signing secret used to verify requests from Slack (HTTP mode).'),
  SLACK_APP_TOKEN: optionalText.describe('App-level token (xapp-…): use Socket Mode instead of HTTP.'),
  SLACK_API_URL: url('base URL of the Slack Web API, ending in /api/').describe(
    'Another base URL for the Slack Web API (a proxy, or a fake in tests).',
  ),
  CAMPAIGN_REPORT_URL: optionalText
    .refine(
      (v) => v === undefined || (v.includes('{campaign_id}') && isHttpUrl(v.replace(/\{(campaign_id|journey_id|step_id)\}/g, 'x'))),
      'must be an http(s) URL template holding {campaign_id}, like https://dash.example.com/campaigns/{campaign_id}',
    )
    .describe(
    'URL template of a campaign report page, with {campaign_id} (and optionally {journey_id}, {step_id}). Unset: no Report buttons.',
  ),
  EXPORT_ALLOWED_USERS: list.describe('Slack user ids allowed to export (comma-separated). Empty: everyone.'),
  EXPORT_ALLOWED_CHANNELS: list.describe('Channel ids where exports may be posted (comma-separated). Empty: every channel.'),
  EXPORT_GZIP_BYTES: z.coerce.number().int().min(0).default(5 * 1024 * 1024).describe('CSV exports larger than this are uploaded gzipped.'),
  EXPORT_RATE_LIMIT: z.coerce.number().int().min(0).default(10).describe('Exports one Slack user may make per hour (0: no limit).'),
  SLACK_API_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000).describe('How long one Slack Web API call may take before it is retried.'),
  SLACK_TEAM_ID: optionalText.describe('Workspace id (T…): requests from any other workspace are refused. Unset: not checked.'),
  SLACK_APP_ID: optionalText.describe('App id (A…): requests meant for any other app are refused. Unset: not checked.'),
  INGEST_TOKEN: optionalText
    .refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters (a random secret)')
    .describe('Bearer token of POST /ingest. Unset: the endpoint does not exist.'),
  INGEST_MAX_BYTES: z.coerce.number().int().min(1).default(20 * 1024 * 1024).describe('Largest POST /ingest body, before and after gzip decompression.'),
  INGEST_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(6)
    .default(2)
    .describe('POST /ingest imports that run at once (1–6); later ones wait their turn. Each holds one of the 10 database connections while it waits for the import lock (one of them two).'),
  INGEST_QUEUE_MAX: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(20)
    .describe('POST /ingest uploads that may wait for a turn; one more is answered 503 with Retry-After before its body is read (each waiting upload keeps its body on disk).'),
  CHART_RENDERER: z
    .enum(['quickchart', 'local'])
    .default('quickchart')
    .describe('Digest charts: "quickchart" links an image on QUICKCHART_URL; "local" draws a PNG in the app and uploads it to Slack (no data leaves your network).'),
  QUICKCHART_URL: z
    .string()
    .default('https://quickchart.io')
    .refine(isHttpUrl, 'must be an http(s) URL (a QuickChart service)')
    .describe('QuickChart service that draws digest charts (the public one, or a self-hosted one).'),
  DIGEST_SCHEDULER: z
    .enum(['on', 'off'])
    .default('on')
    .describe('"on": the Slack app posts due digests every minute; "off": leave it to `npm run cli -- digest run-due` from an external scheduler.'),
  DEFAULT_TZ: z
    .string()
    .default('UTC')
    .refine(isValidTimeZone, 'must be an IANA time zone, like UTC or Europe/Istanbul')
    .describe('Time zone when a Slack user has none (IANA name).'),
  CONSOLE_TOKEN: optionalText.describe(
    'Token the local console page must send; required when HOST is not a loopback address.',
  ),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('Log verbosity.'),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment; throws ConfigError naming every variable that is wrong and how. `app`: the settings are for
 * the running app (npm start), which receives Slack's requests and so needs the variables that go with the bot token;
 * the CLI only posts (digest run-due needs the bot token alone) and leaves them out.
 */
export function loadConfig(env: Record<string, string | undefined>, options: { app?: boolean } = {}): Config {
  // A variable set to nothing is unset, whatever its type: `EXPORT_RATE_LIMIT=` read as 0 turned the limit off.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value === undefined || value.trim() !== ''));
  const parsed = envSchema.safeParse(given);
  if (parsed.success) {
    const config = parsed.data;
    if (options.app && config.SLACK_BOT_TOKEN && !config.SLACK_SIGNING_SECRET && !config.SLACK_APP_TOKEN) {
      throw new ConfigError('SLACK_SIGNING_SECRET is missing: it is needed with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode).');
    }
    if (options.app && (config.SLACK_SIGNING_SECRET || config.SLACK_APP_TOKEN) && !config.SLACK_BOT_TOKEN) {
      throw new ConfigError('SLACK_BOT_TOKEN is missing: it is needed to answer in Slack.');
    }
    return config;
  }
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`Configuration is invalid:\n  ${problems.join('\n  ')}`);
}

export function dbConfigFrom(config: Config): DbConfig {
  return config.DATABASE_URL ? { kind: 'postgres', url: config.DATABASE_URL } : { kind: 'pglite', dir: config.PGLITE_DIR };
}

/** The database a configuration names, for a person: the server and database of DATABASE_URL (never its password), or the folder. */
export function describeDatabase(config: Config): string {
  if (!config.DATABASE_URL) return `PGLITE_DIR=${config.PGLITE_DIR}`;
  try {
    const url = new URL(config.DATABASE_URL);
    return `DATABASE_URL: server ${url.host}, database ${decodeURIComponent(url.pathname.slice(1)) || 'the default'}`;
  } catch {
    return 'DATABASE_URL';
  }
}
