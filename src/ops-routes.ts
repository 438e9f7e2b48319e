// HTTP routes beside Slack's: GET /readyz (is the database answering?) and POST /ingest (NDJSON events over HTTP).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { sql } from 'drizzle-orm';
import type express from 'express';
import pLimit, { type LimitFunction } from 'p-limit';
import { isUnavailable } from '../commands/error-answers.js';
import type { Db } from '../db/client.js';
import { importEvents, readLines } from '../db/import/import-events.js';
import { LISTED_REJECTIONS, importSummaryJson } from './import-summary.js';
import type { Config } from './config.js';
import type { InFlight } from './in-flight.js';
import type { Logger } from './logger.js';

export interface OpsRouteOptions {
  db: Db;
  log: Logger;
  inFlight: InFlight;
  /** Bearer token of POST /ingest; undefined: the route does not exist (404). */
  ingestToken: string | undefined;
  ingestMaxBytes: number;
  /** Imports from POST /ingest that run at once (default 2); the others wait for a turn. */
  ingestConcurrency?: number;
  /** Uploads that may wait for a turn (default 20); one more is answered 503. */
  ingestQueueMax?: number;
  /** How long /readyz waits for `select 1`. */
  readyTimeoutMs?: number;
}

/** The /ingest settings of the environment, as opsRoutes takes them (one place for every mode that serves it). */
export function ingestSettings(config: Config): Pick<OpsRouteOptions, 'ingestToken' | 'ingestMaxBytes' | 'ingestConcurrency' | 'ingestQueueMax'> {
  return {
    ingestToken: config.INGEST_TOKEN,
    ingestMaxBytes: config.INGEST_MAX_BYTES,
    ingestConcurrency: config.INGEST_CONCURRENCY,
    ingestQueueMax: config.INGEST_QUEUE_MAX,
  };
}

export function opsRoutes(router: express.Router, options: OpsRouteOptions): void {
  router.get('/readyz', async (_req, res) => {
    const ready = await checkReady(options);
    res.status(ready.ready ? 200 : 503).json(ready);
  });
  if (options.ingestToken !== undefined) {
    const token = options.ingestToken;
    // Imports take turns at the import lock anyway, each holding a pooled connection while it waits: without a
    // limit, a burst of uploads would hold every connection that commands and digests need.
    const importSlots = pLimit(options.ingestConcurrency ?? 2);
    router.post('/ingest', (req, res) => {
      options.inFlight
        .track(() => ingest(req, res, { ...options, ingestToken: token, importSlots }))
        .catch((err: unknown) => options.log.error('ingest failed', err));
    });
  }
}

export async function checkReady(options: Pick<OpsRouteOptions, 'db' | 'inFlight' | 'readyTimeoutMs'>): Promise<{ ready: boolean; reason?: string }> {
  if (options.inFlight.stopping) return { ready: false, reason: 'stopping' };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      options.db.execute(sql`select 1`),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), options.readyTimeoutMs ?? 3000);
      }),
    ]);
    return { ready: true };
  } catch {
    return { ready: false, reason: 'database unavailable' };
  } finally {
    clearTimeout(timer);
  }
}

/** Compares in constant time; hashing first makes the lengths equal, so the length leaks nothing either. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256').update(match?.[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && match !== null;
}

class TooLargeError extends Error {}

/** Passes bytes through until more than `limit` went by. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new TooLargeError());
      else done(null, chunk);
    },
  });
}

type Options = OpsRouteOptions & { ingestToken: string; importSlots: LimitFunction };

/**
 * How much of a refused body is read (and dropped) before answering: a client still sending its body then reads
 * the refusal instead of a broken pipe. Past this the connection is cut, so a refusal never costs a whole upload.
 */
const DRAIN_BYTES = 1024 * 1024;

function drain(req: express.Request): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.destroyed) return resolve();
    let seen = 0;
    const finish = () => {
      req.off('data', onData);
      req.off('end', finish);
      req.off('close', finish);
      req.off('error', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_BYTES) {
        req.pause();
        finish();
      }
    };
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.once('error', finish);
    req.resume();
  });
}

class ClientGoneError extends Error {}

/** Writes the (decompressed) body to `file`; `req` itself is never destroyed, so a refusal can still be sent. */
async function spool(req: express.Request, file: string, maxBytes: number, gzip: boolean): Promise<void> {
  const source = new PassThrough();
  const gone = () => {
    if (!req.complete) source.destroy(new ClientGoneError());
  };
  req.once('close', gone);
  req.pipe(source);
  const stages: NodeJS.ReadWriteStream[] = [byteLimit(maxBytes)];
  if (gzip) stages.push(createGunzip(), byteLimit(maxBytes));
  try {
    await pipeline([source, ...stages, createWriteStream(file, { mode: 0o600 })]);
  } finally {
    req.off('close', gone);
    req.unpipe(source);
  }
}

async function ingest(req: express.Request, res: express.Response, options: Options): Promise<void> {
  const refuse = async (status: number, error: string, headers: Record<string, string> = {}) => {
    await drain(req);
    res.status(status).set({ connection: 'close', ...headers }).json({ error });
  };
  if (!bearerMatches(req.get('authorization'), options.ingestToken)) {
    return refuse(401, 'missing or wrong bearer token (Authorization: Bearer <INGEST_TOKEN>)', { 'www-authenticate': 'Bearer' });
  }
  const refuseStopping = () => refuse(503, 'the app is stopping; send the file again in a minute', { 'retry-after': '30' });
  if (options.inFlight.stopping) return refuseStopping();
  const declared = Number(req.get('content-length') ?? 0);
  const tooLarge = `the body is larger than ${options.ingestMaxBytes} bytes (INGEST_MAX_BYTES, also after gzip decompression): split the file`;
  if (declared > options.ingestMaxBytes) return refuse(413, tooLarge);
  const slots = options.importSlots;
  if (slots.activeCount >= slots.concurrency && slots.pendingCount >= (options.ingestQueueMax ?? 20)) {
    options.log.info('ingest refused: too many uploads are waiting', { running: slots.activeCount, waiting: slots.pendingCount });
    return refuse(503, `${slots.pendingCount} uploads are already waiting to be imported (INGEST_QUEUE_MAX); send the file again in a minute`, { 'retry-after': '60' });
  }
  const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase().trim();
  if (!['identity', 'gzip', 'x-gzip'].includes(encoding)) return refuse(415, `Content-Encoding "${encoding.slice(0, 40)}" is not supported: send gzip or plain NDJSON`);

  // The body goes to a private temporary file first: a body over the limit must import nothing at all, and
  // whether it is over is only known at its end.
  const dir = mkdtempSync(path.join(tmpdir(), 'journey-ingest-'));
  const file = path.join(dir, 'body.ndjson');
  try {
    try {
      await spool(req, file, options.ingestMaxBytes, encoding !== 'identity');
    } catch (err) {
      if (err instanceof TooLargeError) return await refuse(413, tooLarge);
      if ((err as { code?: string }).code?.startsWith('Z_')) return await refuse(400, 'the body is not valid gzip');
      // The client went away mid-upload: nobody is left to answer.
      return;
    }
    const bytes = statSync(file).size;
    const queued = slots.activeCount >= slots.concurrency;
    if (queued) options.log.info('ingest waiting for a turn', { bytes, running: slots.activeCount, waiting: slots.pendingCount + 1 });
    const strict = req.query.strict === 'true' || req.query.strict === '1';
    let started = Date.now();
    const summary = await slots(() => {
      // The app began to stop while this upload waited: nothing of it is imported, and the client sends it again.
      if (queued && options.inFlight.stopping) {
        options.log.info('ingest not started: the app is stopping', { bytes });
        return null;
      }
      started = Date.now();
      options.log.info('ingest started', { bytes });
      return importEvents(options.db, readLines(file), { source: 'http', strict, keepRejections: LISTED_REJECTIONS });
    });
    if (summary === null) return await refuseStopping();
    const json = importSummaryJson(summary, Date.now() - started);
    options.log.info('ingest finished', {
      import_id: json.import_id,
      status: json.status,
      lines: json.lines,
      accepted: json.accepted,
      duplicates: json.duplicates,
      rejected: json.rejected,
      ms: Date.now() - started,
    });
    res.status(summary.status === 'refused' ? 422 : 200).json(json);
  } catch (err) {
    options.log.error('ingest failed', err);
    if (res.headersSent) return;
    if (isUnavailable(err)) await refuse(503, 'the database is unavailable; send the file again shortly', { 'retry-after': '30' });
    else await refuse(500, 'the import failed; the app log has the details');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
