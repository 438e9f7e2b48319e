// CSV exports of METRICS.md, streamed from the database (COPY on Postgres, a cursor on PGlite): memory does not
// grow with rows.
import { StringDecoder } from 'node:string_decoder';
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { postgresPool, queryRows, type Db } from '../db/client.js';
import type { MessageStatus } from '../db/import/parse-event.js';
import { cohortFilter, computeReport } from './metrics.js';
import type { JourneyInfo, JourneyReport, Period } from './report-types.js';

import { EXPORT_KINDS, STEP_USER_STATUSES, type ExportKind, type StepUserStatus } from './export-kinds.js';

export { EXPORT_KINDS, STEP_USER_STATUSES, type ExportKind, type StepUserStatus };

export interface ExportRequest {
  journey: JourneyInfo;
  kind: ExportKind;
  period: Period;
  /** step-users only */
  stepId?: string | null;
  status?: StepUserStatus | null;
}

export class ExportRequestError extends Error {
  override name = 'ExportRequestError';
}

/** Checks the parts of a request a person typed; throws ExportRequestError saying what to change. */
export function checkExportRequest(req: ExportRequest): void {
  if (req.kind !== 'step-users') return;
  const stepIds = req.journey.steps.map((s) => s.stepId);
  if (!req.stepId) {
    throw new ExportRequestError(`step-users needs a step: one of ${stepIds.join(', ')}`);
  }
  if (!stepIds.includes(req.stepId)) {
    throw new ExportRequestError(`"${req.stepId}" is not a step of ${req.journey.journeyId}; its steps are ${stepIds.join(', ')}`);
  }
  if (!req.status) {
    throw new ExportRequestError(`step-users needs a status: one of ${STEP_USER_STATUSES.join(', ')}`);
  }
}

/**
 * The export's row count, read from the report (every export row is one unit of a metric), so an export
 * and the number shown beside its button can never disagree. 0 or null means "nothing to export".
 */
export function exportRowCount(req: ExportRequest, report: JourneyReport): number {
  switch (req.kind) {
    case 'converted-users':
      return report.overview.converted_users ?? 0;
    case 'conversion-events':
      return report.overview.conversion_events ?? 0;
    case 'entries':
      return report.overview.total_entries;
    case 'exits':
      return report.overview.total_exits;
    case 'step-users': {
      const step = report.steps.find((s) => s.step_id === req.stepId);
      if (!step || !req.status) return 0;
      return req.status === 'entered' ? step.entry_count : step[req.status as MessageStatus];
    }
  }
}

/** Checks a request and counts its rows from the one metrics engine: what every surface asks before exporting. */
export async function countExportRows(db: Db, req: ExportRequest): Promise<number> {
  checkExportRequest(req);
  return exportRowCount(req, await computeReport(db, req.journey, req.period));
}

export const EXPORT_COLUMNS: Record<ExportKind, string[]> = {
  'converted-users': ['external_id', 'converted_at', 'entry_id'],
  'conversion-events': ['external_id', 'event_timestamp', 'event_id', 'entry_id'],
  entries: ['external_id', 'entry_id', 'entered_at', 'exited_at', 'converted'],
  exits: ['external_id', 'entry_id', 'exited_at', 'last_step_id'],
  'step-users': ['external_id', 'entry_id', 'at', 'platform', 'reason'],
};

/** How the export query selects its cells: raw values for the writer here, or finished cells for COPY. */
interface CellSql {
  /** A timestamp column (timestamptz with millisecond precision). */
  time(column: SQL, alias: string): SQL;
  /** A text column, which may need the formula guard; null or '' is an empty cell. */
  text(column: SQL, alias: string): SQL;
}

const as = (value: SQL, alias: string) => sql`${value} as ${sql.identifier(alias)}`;

/**
 * For the cursor (PGlite): a timestamp as epoch milliseconds, formatted as ISO-8601 UTC here (Date#toISOString),
 * which costs a fraction of the database's to_char on a million rows; text as it is, guarded by csvCell.
 */
const NODE_CELLS: CellSql = {
  time: (column, alias) => as(sql`(extract(epoch from ${column}) * 1000)::bigint`, alias),
  text: (column, alias) => as(column, alias),
};

/**
 * For COPY (Postgres), which writes each cell as the database gives it: the cells are made here exactly as
 * csvCell and Date#toISOString make them, so both paths write the same bytes.
 * - A timestamp of the years 1–9999 takes to_char; Date#toISOString writes other years with a sign and six digits
 *   (year 0 as 0000), and so does the rare branch. The columns hold whole milliseconds (precision 3), so MS, which
 *   truncates, and the cursor's rounding to epoch milliseconds agree.
 * - Text gets the formula guard of guardCell (ascii() is the first character's code: = + - @ tab CR), and '' turns
 *   into NULL: COPY writes NULL as an empty unquoted cell but would quote an empty string.
 */
const COPY_CELLS: CellSql = {
  time: (column, alias) => {
    const utc = sql`(${column} at time zone 'UTC')`;
    const year = sql`extract(year from ${utc})::int`;
    // extract() counts BC years from -1 (1 BC) downwards; ISO and JavaScript count 1 BC as year 0.
    const signedYear = sql`case when ${year} = -1 then '0000' when ${year} < 0 then '-' || lpad((-1 - ${year})::text, 6, '0')
      else '+' || lpad(${year}::text, 6, '0') end`;
    return as(
      sql`case when ${column} >= '0001-01-01T00:00:00Z' and ${column} < '10000-01-01T00:00:00Z'
          then to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        when ${column} is not null then ${signedYear} || to_char(${utc}, '-MM-DD"T"HH24:MI:SS.MS"Z"') end`,
      alias,
    );
  },
  text: (column, alias) =>
    as(sql`case when ascii(${column}) in (61, 43, 45, 64, 9, 13) then '''' || ${column} else nullif(${column}, '') end`, alias),
};

const TIME_COLUMNS = new Set(['converted_at', 'event_timestamp', 'entered_at', 'exited_at', 'at']);

/**
 * One fetched row as a CSV line, in one pass: a timestamp (epoch ms) becomes its ISO string, which never needs
 * quoting or a formula guard; every other value goes through csvCell. Columns come in the query's select order.
 */
function csvRow(row: Record<string, unknown>, timeAt: readonly boolean[]): string {
  let line = '';
  let i = 0;
  for (const key in row) {
    const v = row[key];
    const cell = v === null || v === undefined ? '' : timeAt[i] ? new Date(Number(v)).toISOString() : csvCell(String(v));
    line += i === 0 ? cell : `,${cell}`;
    i++;
  }
  return `${line}\n`;
}

function exportQuery(req: ExportRequest, cells: CellSql): SQL {
  const j = req.journey.journeyId;
  const { time, text } = cells;
  const externalId = text(sql`u.external_id`, 'external_id');
  switch (req.kind) {
    case 'converted-users':
      return sql`select ${externalId}, ${time(sql`f.at`, 'converted_at')}, ${text(sql`f.entry_id`, 'entry_id')}
        from first_conversions f join users u on u.id = f.user_id
        where f.journey_id = ${j} and ${cohortFilter(sql`f.entered_at`, req.period)}
        order by f.at, f.event_id collate "C"`;
    case 'conversion-events':
      return sql`select ${externalId}, ${time(sql`a.at`, 'event_timestamp')}, ${text(sql`a.event_id`, 'event_id')},
               ${text(sql`a.entry_id`, 'entry_id')}
        from conversion_attributions a join users u on u.id = a.user_id
        where a.journey_id = ${j} and ${cohortFilter(sql`a.entered_at`, req.period)}
        order by a.at, a.event_id collate "C"`;
    case 'entries':
      return sql`select ${externalId}, ${text(sql`e.entry_id`, 'entry_id')}, ${time(sql`e.entered_at`, 'entered_at')},
               ${time(sql`e.exited_at`, 'exited_at')}, case when e.conversion_count > 0 then 'true' else 'false' end as converted
        from entries e join users u on u.id = e.user_id
        where e.journey_id = ${j} and ${cohortFilter(sql`e.entered_at`, req.period)}
        order by e.entered_at, e.entry_id collate "C"`;
    case 'exits':
      return sql`select ${externalId}, ${text(sql`e.entry_id`, 'entry_id')}, ${time(sql`e.exited_at`, 'exited_at')},
               ${text(sql`e.last_step_id`, 'last_step_id')}
        from entries e join users u on u.id = e.user_id
        where e.journey_id = ${j} and ${cohortFilter(sql`e.entered_at`, req.period)}
          and e.exited_at is not null and e.conversion_count = 0
        order by e.exited_at, e.entry_id collate "C"`;
    case 'step-users':
      if (req.status === 'entered') {
        return sql`select ${externalId}, ${text(sql`s.entry_id`, 'entry_id')}, ${time(sql`s.at`, 'at')}, null as platform, null as reason
          from step_entries s join users u on u.id = s.user_id
          where s.journey_id = ${j} and s.step_id = ${req.stepId ?? ''} and ${cohortFilter(sql`s.entered_at`, req.period)}
          order by s.at, s.event_id collate "C"`;
      }
      return sql`select ${externalId}, ${text(sql`m.entry_id`, 'entry_id')}, ${time(sql`m.at`, 'at')},
               ${text(sql`m.platform`, 'platform')}, ${text(sql`m.reason`, 'reason')}
        from messages m join users u on u.id = m.user_id
        where m.journey_id = ${j} and m.step_id = ${req.stepId ?? ''} and m.status = ${req.status ?? ''}
          and ${cohortFilter(sql`m.entered_at`, req.period)}
        order by m.at, m.event_id collate "C"`;
  }
}

/** Spreadsheets run a cell that starts with one of these as a formula (METRICS.md: prefix it with '). */
const FORMULA_START = /^[=+\-@\t\r]/;
/**
 * RFC 4180: a field holding a quote, a comma, a line feed or a carriage return is quoted, its quotes doubled.
 * An unquoted CR splits the row in a spreadsheet — and cuts the guard of a CR-leading value off its cell.
 */
const NEEDS_QUOTES = /[",\n\r]/;

export function guardCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

function csvCell(value: string | null): string {
  if (value === null || value === '') return '';
  const cell = guardCell(value);
  return NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/**
 * RFC 4180 text for a batch of rows (LF line ends, as the worked examples are written). Written by hand rather
 * than with a CSV library because a million-row export spends most of its time here; test/unit/csv-lines.test.ts
 * checks it against csv-stringify.
 */
export function csvLines(rows: ReadonlyArray<ReadonlyArray<string | null>>): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) out += (i === 0 ? '' : ',') + csvCell(row[i]!);
    out += '\n';
  }
  return out;
}

/**
 * Yields the export's CSV text in chunks (header first), for readers of text. On Postgres it is the bytes of
 * exportCsvBytes, decoded on the way: a character may be split between two chunks.
 */
export async function* exportCsv(db: Db, req: ExportRequest): AsyncGenerator<string> {
  checkExportRequest(req);
  const pool = postgresPool(db);
  if (!pool) {
    yield* cursorCsv(db, req);
    return;
  }
  const decoder = new StringDecoder('utf8');
  for await (const chunk of copyCsv(pool, req)) {
    const text = decoder.write(chunk);
    if (text !== '') yield text;
  }
  const rest = decoder.end();
  if (rest !== '') yield rest;
}

/** Yields the export's CSV as UTF-8 bytes in chunks (header first), for files and uploads. */
export async function* exportCsvBytes(db: Db, req: ExportRequest): AsyncGenerator<Buffer> {
  checkExportRequest(req);
  const pool = postgresPool(db);
  if (!pool) {
    for await (const text of cursorCsv(db, req)) yield Buffer.from(text, 'utf8');
    return;
  }
  yield* copyCsv(pool, req);
}

const dialect = new PgDialect();

/**
 * COPY takes no bind parameters, so the query's parameters (a journey id, a step id, a status and ISO timestamps,
 * all strings) are written into it as literals escaped by node-postgres. Every other part of the text is this
 * module's own, so a $n in it is always a placeholder.
 */
function inlineParams(query: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    if (typeof value !== 'string') throw new TypeError(`export parameter $${n} is not a string`);
    return pg.escapeLiteral(value);
  });
}

/**
 * The export through COPY (Postgres): the server writes the rows as CSV and this process passes the bytes on —
 * about three times the rows per second of formatting them here, in less memory. One statement reads one
 * snapshot. The connection is the export's own while it runs; when the reader falls behind, the copy stream stops
 * reading the socket, and the server waits.
 *
 * COPY quotes a cell exactly when csvCell does (delimiter, quote, CR or LF in it), with one exception that cannot
 * arise here: a cell that is exactly \. is quoted only when it is a row's single column, and every export has three
 * or more.
 */
async function* copyCsv(pool: pg.Pool, req: ExportRequest): AsyncGenerator<Buffer> {
  yield Buffer.from(csvLines([EXPORT_COLUMNS[req.kind]]), 'utf8');
  // ENCODING: the bytes are UTF-8 whatever the connection's client_encoding.
  const statement = inlineParams(sql`copy (${exportQuery(req, COPY_CELLS)}) to stdout (format csv, encoding 'UTF8')`);
  const client = await pool.connect();
  let complete = false;
  try {
    const copy = client.query(copyTo(statement));
    // An error reaches the loop through the iterator; this keeps one that comes after the loop has stopped (the
    // connection closed below) from being unhandled.
    copy.on('error', () => {});
    for await (const chunk of copy as AsyncIterable<Buffer>) yield chunk;
    complete = true;
  } finally {
    if (complete) {
      client.release();
    } else {
      // Stopped early (the reader went away or the COPY failed), the server may still be sending rows nobody reads.
      // A cancel request could end the COPY, but it may arrive late and cancel the next query on the reused
      // connection; so the connection is dropped instead: given an error, the pool forgets the client and ends it,
      // and node-postgres closes the socket of a client ending mid-query, which ends the COPY at the server.
      client.release(new Error('export stopped before its end'));
    }
  }
}

/** Rows per FETCH: enough that round trips hardly count, few enough that a batch's garbage stays small. */
const FETCH_SIZE = 1_000;
let cursorSeq = 0;

/**
 * The export through a server-side cursor (PGlite, which cannot stream COPY TO STDOUT), formatted here.
 *
 * The cursor is declared WITH HOLD in a transaction of its own: its commit runs the query to the end into the
 * cursor's store (spilled to temporary files beyond work_mem), so the export reads one consistent snapshot, and the
 * FETCHes after it need no transaction. PGlite runs one transaction at a time: a cursor read inside a transaction
 * held the database for the whole export, reader included (a report waited 8.7 s behind a million-row export); now
 * it is held while the result is computed (~3 s for a million rows), and between two FETCHes of 1,000 rows any
 * other query, an import batch included, takes its turn. Closed at the end, or when the reader stops or fails.
 */
async function* cursorCsv(db: Db, req: ExportRequest): AsyncGenerator<string> {
  yield csvLines([EXPORT_COLUMNS[req.kind]]);
  const cursor = sql.raw(`export_cursor_${++cursorSeq}`);
  await db.transaction(async (tx) => {
    // Plan for the whole result, not for its first rows (a cursor's default): a million-row export then hashes
    // the users once and sorts, instead of looking each one up — half the server time.
    await tx.execute(sql`select set_config('cursor_tuple_fraction', '1', true)`);
    await tx.execute(sql`declare ${cursor} no scroll cursor with hold for ${exportQuery(req, NODE_CELLS)}`);
  });
  let read = false;
  const fetchNext = () => {
    const rows = queryRows<Record<string, unknown>>(db, sql`fetch forward ${sql.raw(String(FETCH_SIZE))} from ${cursor}`);
    // Awaited below, or abandoned when the reader stops: then its failure is not this export's to report.
    rows.catch(() => {});
    return rows;
  };
  let next: Promise<Record<string, unknown>[]> | null = fetchNext();
  try {
    const timeAt = EXPORT_COLUMNS[req.kind].map((c) => TIME_COLUMNS.has(c));
    while (next) {
      const rows: Record<string, unknown>[] = await next;
      // The database (on its own thread) fetches the next rows while these are formatted and written.
      next = rows.length === FETCH_SIZE ? fetchNext() : null;
      if (rows.length > 0) {
        let text = '';
        for (const row of rows) text += csvRow(row, timeAt);
        yield text;
      }
    }
    read = true;
  } finally {
    // A held cursor lives until it is closed or the session ends: its store is freed here, whatever ended the read.
    // After a failed FETCH the close may fail too (an aborted transaction): the first error is the one to report.
    await db.execute(sql`close ${cursor}`).catch((err: unknown) => {
      if (read) throw err;
    });
  }
}
