// Delivers a CSV export into a Slack thread: streams it from the database to a temporary file (gzipped above
// a size threshold), then uploads it with the three-call external upload that files.uploadV2 stands for.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { WebClient } from '@slack/web-api';
import { DateTime } from 'luxon';
import type { Db } from '../db/client.js';
import { exportCsvBytes, type ExportRequest } from '../reports/exports.js';
import { slackErrorCode } from './post-once.js';

export interface UploadedExport {
  fileId: string;
  filename: string;
  bytes: number;
  gzipped: boolean;
}

/** Slack did not take the file (its upload URL, the upload itself, or sharing it into the thread failed). */
export class UploadError extends Error {
  override name = 'UploadError';
}

/** Runs one step of the upload; a failure becomes an UploadError saying which step and why (the cause kept). */
async function uploadStep<T>(step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const why = slackErrorCode(err) ?? (err instanceof Error ? err.message : String(err));
    throw new UploadError(`The CSV could not be uploaded to Slack (${step}: ${why})`, { cause: err });
  }
}

/**
 * The file's name: journey, export, step and status, and the period's first and last days as the post names them,
 * in the asker's zone (the period's end is exclusive: 1–7 Nov is from 1 Nov 00:00 to 8 Nov 00:00).
 */
export function exportFilename(req: ExportRequest, tz: string): string {
  const day = (d: Date) => DateTime.fromJSDate(d, { zone: tz }).toISODate() ?? d.toISOString().slice(0, 10);
  const first = req.period.from ? day(req.period.from) : 'start';
  const last = req.period.to ? day(new Date(req.period.to.getTime() - 1)) : 'now';
  const period = !req.period.from && !req.period.to ? 'all-time' : first === last ? first : `${first}_${last}`;
  const step = req.kind === 'step-users' ? `-${req.stepId}-${req.status}` : '';
  return `${req.journey.journeyId}-${req.kind}${step}-${period}.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Writes the export to a temporary file; memory holds one chunk at a time. pipeline() waits for the file while it
 * drains and, when the export fails, closes the file and ends the export (a COPY drops its connection).
 */
async function writeCsvFile(db: Db, req: ExportRequest, tz: string, dir: string, gzipAbove: number) {
  const csvPath = path.join(dir, exportFilename(req, tz));
  await pipeline(Readable.from(exportCsvBytes(db, req)), createWriteStream(csvPath));
  const size = statSync(csvPath).size;
  if (size <= gzipAbove) return { file: csvPath, bytes: size, gzipped: false };
  const gzPath = `${csvPath}.gz`;
  await pipeline(createReadStream(csvPath), createGzip(), createWriteStream(gzPath));
  return { file: gzPath, bytes: statSync(gzPath).size, gzipped: true };
}

export async function uploadExport(options: {
  db: Db;
  client: WebClient;
  request: ExportRequest;
  /** The asker's zone, in which the file's name gives the period's days. */
  tz: string;
  channel: string;
  threadTs: string;
  comment: string;
  gzipAbove: number;
}): Promise<UploadedExport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'journey-export-'));
  try {
    const written = await writeCsvFile(options.db, options.request, options.tz, dir, options.gzipAbove);
    const filename = path.basename(written.file);
    const { uploadUrl, fileId } = await uploadStep('files.getUploadURLExternal', async () => {
      const ticket = await options.client.files.getUploadURLExternal({ filename, length: written.bytes });
      if (!ticket.upload_url || !ticket.file_id) throw new Error('Slack gave no upload URL');
      return { uploadUrl: ticket.upload_url, fileId: ticket.file_id };
    });
    await uploadStep('the upload', () => postFile(uploadUrl, written.file, written.bytes));
    await uploadStep('files.completeUploadExternal', () =>
      options.client.files.completeUploadExternal({
        files: [{ id: fileId, title: filename }],
        channel_id: options.channel,
        thread_ts: options.threadTs,
        initial_comment: options.comment,
      }),
    );
    return { fileId, filename, bytes: written.bytes, gzipped: written.gzipped };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Streams the file to Slack's upload URL, waiting out rate limits (429 + Retry-After), server errors, timeouts
 * and dropped connections a few times. Repeating is safe: the URL holds one file, and a second body replaces
 * the first; the file is shared only by files.completeUploadExternal.
 */
async function postFile(url: string, file: string, bytes: number, timeoutMs = 60_000): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let status: number;
    let retryAfter = Number.NaN;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: 'half',
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit);
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return;
      status = response.status;
      retryAfter = Number(response.headers.get('retry-after'));
    } catch (err) {
      if (attempt >= 4) throw new Error('file upload failed: Slack did not answer', { cause: err });
      status = 0;
    }
    const retryable = status === 0 || status === 429 || status >= 500;
    if (!retryable || attempt >= 4) throw new Error(`file upload failed with HTTP ${status}`);
    await new Promise((r) => setTimeout(r, (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : attempt) * 1000));
  }
}
