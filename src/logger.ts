// Structured logs (pino, one JSON object a line on stderr) that never carry tokens, signing secrets or External IDs.
import type { Logger as SlackLogger, LogLevel as SlackLogLevel } from '@slack/bolt';
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Extra structured fields: counts, ids of our own records, durations — never user data. */
export type LogFields = Record<string, string | number | boolean | null>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, err?: unknown): void;
  error(message: string, err?: unknown): void;
}

const MASK = '[redacted]';

/**
 * Credentials recognisable by their shape, wherever they appear in a text (an error message, a Bolt debug
 * line with a request body): Slack tokens, bearer tokens, request signatures, passwords in database URLs,
 * response_url capabilities and the legacy verification token of a request body.
 */
const SECRET_SHAPES: ReadonlyArray<[RegExp, string]> = [
  [/\bxox[a-z]-[A-Za-z0-9-]+/g, MASK],
  [/\bxapp-[A-Za-z0-9-]+/g, MASK],
  [/\b(Bearer)\s+[^\s",]+/gi, `$1 ${MASK}`],
  [/\bv0=[0-9a-f]{16,}/g, MASK],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]+:)[^@\s"]+@/gi, `$1${MASK}@`],
  [/https:\/\/hooks\.slack\.com\/[^\s"']+/g, MASK],
  [/("(?:token|response_url|trigger_id|signing_secret|signingSecret|authorization)"\s*:\s*")(?:[^"\\]|\\.)*"/gi, `$1${MASK}"`],
  [/\b(token|response_url|trigger_id)=[^&\s"]+/g, `$1=${MASK}`],
];

/** Replaces every configured secret value and every credential-shaped substring of a text. */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 6) out = out.split(secret).join(MASK);
  }
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

interface SafeError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SafeError;
}

/**
 * What of an error may be logged. Driver errors carry the values they choke on: node-postgres puts the
 * offending key (an External ID) in `detail`, drizzle appends the query parameters to its message, and data
 * exceptions (SQLSTATE class 22) quote the bad value — so only the type, the code, the message without
 * parameters or quoted values, and the stack frames (not the stack's message line) are kept.
 */
export function safeError(err: unknown, secrets: readonly string[] = [], depth = 0): SafeError {
  if (!(err instanceof Error)) return { type: typeof err, message: scrubText(String(err).slice(0, 200), secrets) };
  const code = (err as { code?: unknown }).code;
  let message = err.message.replace(/\nparams:[\s\S]*$/, '');
  if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) message = message.replace(/:\s*".*$/s, '');
  const frames = err.stack?.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 8).join('\n');
  const cause = (err as { cause?: unknown }).cause;
  return {
    type: err.name,
    message: scrubText(message, secrets),
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    ...(frames ? { stack: frames } : {}),
    ...(cause !== undefined && cause !== err && depth < 3 ? { cause: safeError(cause, secrets, depth + 1) } : {}),
  };
}

export interface LoggerOptions {
  /** Values that must never appear in a log line (tokens, signing secret, ingest token, database password). */
  secrets?: readonly string[];
}

/**
 * A logger writing JSON lines at `level` and above, to stderr or to `write` (one line without its newline).
 * Messages are our own fixed texts; every line is scrubbed once more on its way out as a last guard.
 */
export function createLogger(level: LogLevel, write?: (line: string) => void, options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 6);
  const emit = write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const destination = {
    write: (chunk: string) => {
      for (const line of chunk.split('\n')) if (line !== '') emit(scrubText(line, secrets));
    },
  };
  const base = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // `err` is already reduced by safeError; pino's own error serializer would copy every property back.
      serializers: { err: (value: unknown) => value },
      // Field names that could hold a credential or a person's id, should a caller ever pass one.
      redact: {
        paths: ['token', 'authorization', 'secret', 'password', 'external_id', 'externalId', 'raw', 'row', '*.token', '*.authorization', '*.external_id', '*.externalId'],
        censor: MASK,
      },
    },
    destination,
  );
  const withError = (at: 'warn' | 'error', message: string, err: unknown) => {
    if (err === undefined) base[at](scrubText(message, secrets));
    else base[at]({ err: safeError(err, secrets) }, scrubText(message, secrets));
  };
  return {
    debug: (message, fields) => base.debug(fields ?? {}, scrubText(message, secrets)),
    info: (message, fields) => base.info(fields ?? {}, scrubText(message, secrets)),
    warn: (message, err) => withError('warn', message, err),
    error: (message, err) => withError('error', message, err),
  };
}

/** The secrets of a configuration that logs must mask wherever they turn up. */
export function secretsOf(config: Record<string, unknown>): string[] {
  const keys = ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'INGEST_TOKEN'];
  const values = keys.map((k) => config[k]).filter((v): v is string => typeof v === 'string');
  for (const key of ['DATABASE_URL']) {
    const url = config[key];
    if (typeof url === 'string' && URL.canParse(url)) {
      const password = decodeURIComponent(new URL(url).password);
      if (password) values.push(password);
    }
  }
  return values;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Bolt's (and its Web API client's) logger, fed into ours: Bolt may log request bodies, so every line is scrubbed. */
export function boltLogger(log: Logger, level: LogLevel): SlackLogger {
  // Bolt builds its debug lines eagerly; skipping them early keeps a request body from being serialised for nothing.
  const enabled = (at: LogLevel) => ORDER[at] >= ORDER[level];
  const text = (parts: unknown[]) => parts.filter((p) => !(p instanceof Error)).map((p) => (typeof p === 'string' ? p : safeJson(p))).join(' ');
  const errorOf = (parts: unknown[]) => parts.find((p) => p instanceof Error);
  let current = level as string;
  return {
    debug: (...m) => enabled('debug') && log.debug(`bolt: ${text(m)}`),
    info: (...m) => enabled('info') && log.info(`bolt: ${text(m)}`),
    warn: (...m) => log.warn(`bolt: ${text(m)}`, errorOf(m)),
    error: (...m) => log.error(`bolt: ${text(m)}`, errorOf(m)),
    // The level is ours (LOG_LEVEL); Bolt only asks.
    setLevel: (l) => {
      current = l;
    },
    getLevel: () => current as SlackLogLevel,
    setName: () => {},
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
