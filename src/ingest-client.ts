// Sends an NDJSON file to a running app's POST /ingest (gzipped, with the bearer token) and returns its summary.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { ImportSummaryJson } from './import-summary.js';

/** The app answered with a refusal or could not be reached; the message says what to do. */
export class IngestRequestError extends Error {
  override name = 'IngestRequestError';
}

export interface IngestRequest {
  /** A file path, or "-" for standard input. */
  file: string;
  url: string;
  token: string;
  strict: boolean;
}

export async function sendToIngest(req: IngestRequest): Promise<ImportSummaryJson> {
  const target = new URL(req.url);
  if (req.strict) target.searchParams.set('strict', 'true');
  const input = req.file === '-' ? process.stdin : createReadStream(req.file);
  const body = Readable.toWeb(input.pipe(createGzip())) as ReadableStream;
  let response: Response;
  try {
    response = await fetch(target, {
      method: 'POST',
      headers: { authorization: `Bearer ${req.token}`, 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body,
      duplex: 'half',
    } as RequestInit);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new IngestRequestError(
      `Cannot send to ${req.url} (${cause?.code ?? cause?.message ?? (err as Error).message}). Is the app running (npm start) with INGEST_TOKEN set, and is the URL right?`,
    );
  }
  const text = await response.text();
  let json: Partial<ImportSummaryJson> & { error?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // not JSON (a 404 page, a proxy's error): described below by its status
  }
  if ((response.status === 200 || response.status === 422) && typeof json.accepted === 'number') return json as ImportSummaryJson;
  switch (response.status) {
    case 401:
      throw new IngestRequestError(`${req.url} refused the token (401): pass the app's INGEST_TOKEN (--token or the INGEST_TOKEN variable).`);
    case 404:
      throw new IngestRequestError(`${req.url} has no ingest endpoint (404): start the app with INGEST_TOKEN set, or check the URL (…/ingest).`);
    default:
      throw new IngestRequestError(`${req.url} answered HTTP ${response.status}: ${json.error ?? text.slice(0, 200)}`);
  }
}
