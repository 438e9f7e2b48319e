// The command line: import events, print reports, stream CSV exports, load demo data.
import { createWriteStream, existsSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createDb, type DbHandle } from '../db/client.js';
import { DatabaseLockedError } from '../db/dir-lock.js';
import { ImportStopped, importEvents, readLines, repairDerivedState, type ImportSummary } from '../db/import/import-events.js';
import { parseTimestamp } from '../db/import/parse-event.js';
import {
  EXPORT_KINDS,
  ExportRequestError,
  STEP_USER_STATUSES,
  countExportRows,
  exportCsvBytes,
  type ExportKind,
  type ExportRequest,
  type StepUserStatus,
} from '../reports/exports.js';
import { AmbiguousJourneyError, UnknownJourneyError, listJourneyNames, resolveJourneyId } from '../reports/journey-lookup.js';
import { computeReport, loadJourney } from '../reports/metrics.js';
import { renderReportTable } from '../reports/report-table.js';
import type { Period } from '../reports/report-types.js';
import { PERIOD_BOUNDS, isValidTimeZone } from '../reports/periods.js';
import { ScheduleError } from '../reports/schedules.js';
import { ConfigError, dbConfigFrom, describeDatabase, loadConfig } from './config.js';
import { DIGEST_USAGE, DigestCliUsageError, digestCli } from './digest-cli.js';
import { importSummaryJson, type ImportSummaryJson } from './import-summary.js';
import { IngestRequestError, sendToIngest } from './ingest-client.js';
import { previewCommand } from './preview.js';
import { nothingToExport } from '../commands/export.js';
import { renderMessageAsText } from '../reports/blocks/render-text.js';
import { formatPeriodLabel } from '../reports/format.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  now: () => Date;
  /** Whether progress may redraw one line (a terminal). */
  interactive: boolean;
}

class UsageError extends Error {}

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  import FILE [--json] [--rejects OUT.ndjson] [--strict] [--batch-size N]
      Import NDJSON events (FILE "-" reads standard input). Bad lines are reported and skipped
      (--strict: nothing is imported if any line is bad).
  import FILE --url http://127.0.0.1:3000/ingest [--token T] [--json] [--strict]
      Send the file to a running app's POST /ingest instead of opening the database (while \`npm start\`
      holds the embedded one). The token: --token, or the INGEST_TOKEN variable.
  report <journey> [--from ISO] [--to ISO] [--json]
      Overview and step metrics, all time or for entries entered in [from, to).
  export <journey> <${EXPORT_KINDS.join('|')}> [--step S] [--status ${STEP_USER_STATUSES.join('|')}]
         [--from ISO] [--to ISO] [--out FILE]
      CSV export (standard output without --out).
  journeys [--json]
      The stored journeys, newest activity first.
  demo [--seed N] [--scale N]
      Generate a realistic demo data set (several journeys, six weeks) into the database.
  repair
      Recompute every derived value and rollup from the stored events (no import runs meanwhile): for a
      database whose reports are in doubt, e.g. after an older version of the app imported into it.
  slash "<text>" [--tz ZONE]
      Print what \`/journey <text>\` would answer in Slack (blocks as text), without Slack.
${DIGEST_USAGE}

<journey> is a journey id or name (case-insensitive; a unique prefix is enough).
ISO times: 2026-11-01T00:00:00Z, or a date (2026-11-01 = midnight UTC).
The database is DATABASE_URL (Postgres) or, when unset, the embedded one in PGLITE_DIR (./.data/pglite).`;

/**
 * The usage of one command (its entries in USAGE, with their descriptions), for an error in it: the reason stays on
 * screen instead of above 40 lines of every command. The whole USAGE for a command it does not know.
 */
export function usageOf(command: string | undefined): string {
  const entries: string[][] = [];
  for (const line of USAGE.split('\n')) {
    if (/^ {2}\S/.test(line)) entries.push([line]);
    else if (/^ {5,}\S/.test(line) && entries.length > 0) entries.at(-1)!.push(line);
    else if (line.trim() === '' && entries.length > 0) entries.push([]);
  }
  const own = entries.filter((e) => command !== undefined && e[0]?.trim().split(' ')[0] === command);
  if (own.length === 0) return USAGE;
  return `Usage: npm run cli -- <command> [options]\n${own.map((e) => e.join('\n')).join('\n')}\n(\`npm run cli -- help\` lists every command.)`;
}

const COMMON = { help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parseTime(value: string | undefined, flag: string): Date | null {
  if (value === undefined) return null;
  const v = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const parsed = parseTimestamp(v);
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.reason}, or a date alone, like 2026-11-01, for its midnight in UTC`);
  // A period is cut at whole days and hours in the database, which cannot go past the year 9999.
  if (parsed.ms < PERIOD_BOUNDS.first.getTime() || parsed.ms > PERIOD_BOUNDS.end.getTime()) {
    throw new UsageError(`${flag}: ${value} is outside the dates the app answers for: ${PERIOD_BOUNDS.text}`);
  }
  return new Date(parsed.ms);
}

function periodFrom(values: { from?: string; to?: string }): Period {
  const period = { from: parseTime(values.from, '--from'), to: parseTime(values.to, '--to') };
  if (period.from && period.to && period.to <= period.from) throw new UsageError('--to must be later than --from');
  return period;
}

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  let handle: DbHandle | undefined;
  const openDb = async () => {
    const config = loadConfig(io.env);
    try {
      handle = await createDb(dbConfigFrom(config), (msg) => write(io.stderr, msg));
    } catch (err) {
      if (err instanceof DatabaseLockedError) throw err;
      // Which database, as the app's start names it: a bare "connect ECONNREFUSED" says neither which nor where.
      throw new Error(`Cannot open the database (${describeDatabase(config)}): ${(err as Error).message ?? String(err)}`, { cause: err });
    }
    return handle.db;
  };
  try {
    switch (command) {
      case 'import':
        return await importCommand(rest, io, openDb);
      case 'report':
        return await reportCommand(rest, io, openDb);
      case 'export':
        return await exportCommand(rest, io, openDb);
      case 'journeys':
        return await journeysCommand(rest, io, openDb);
      case 'demo':
        return await demoCommand(rest, io, openDb);
      case 'repair':
        return await repairCommand(rest, io, openDb);
      case 'slash':
        return await slashCommand(rest, io, openDb);
      case 'digest':
        return await digestCli(rest, io, openDb);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        write(io.stdout, USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    // Arguments that name nothing valid (an export without its step, a schedule or zone that is not one): usage errors.
    if (err instanceof UsageError || err instanceof DigestCliUsageError || err instanceof ExportRequestError || err instanceof ScheduleError) {
      write(io.stderr, `${err.message}\n\n${usageOf(command)}`);
      return 2;
    }
    if (
      err instanceof UnknownJourneyError ||
      err instanceof AmbiguousJourneyError ||
      err instanceof ConfigError ||
      err instanceof DatabaseLockedError ||
      err instanceof IngestRequestError
    ) {
      write(io.stderr, err.message);
      return 1;
    }
    write(io.stderr, `Failed: ${(err as Error).message ?? String(err)}`);
    return 1;
  } finally {
    await handle?.close();
  }
}

type OpenDb = () => Promise<DbHandle['db']>;

async function importCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: 'boolean' },
    rejects: { type: 'string' },
    strict: { type: 'boolean' },
    'batch-size': { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
  });
  if (values.help) return write(io.stdout, USAGE), 0;
  const [file, extra] = positionals;
  if (file === undefined) throw new UsageError('import needs a FILE (or "-" for standard input)');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  if (file !== '-' && statSync(file).isDirectory()) throw new UsageError(`${file} is a folder: give the NDJSON file in it`);
  if (values.rejects !== undefined) checkWritableFile(values.rejects, '--rejects');
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
    throw new UsageError('--batch-size must be a whole number of at least 1');
  }
  if (values.url !== undefined) return importOverHttp(file, values, io);
  if (values.token !== undefined) throw new UsageError('--token goes with --url');
  let db: DbHandle['db'];
  try {
    db = await openDb();
  } catch (err) {
    if (!(err instanceof DatabaseLockedError)) throw err;
    write(
      io.stderr,
      err.holderIngestUrl
        ? `${err.message}\nIt is the app and takes files over HTTP: send this one to it instead:\n` +
            `  npm run cli -- import ${file} --url ${err.holderIngestUrl} --token "$INGEST_TOKEN"`
        : `${err.message}\nIf that process is the app (npm start), start it with INGEST_TOKEN set and send the file to it:\n` +
            `  npm run cli -- import ${file} --url http://127.0.0.1:<PORT>/ingest --token "$INGEST_TOKEN"`,
    );
    return 1;
  }
  // Rejected lines go to a temporary file renamed into place at the end: a killed import leaves no half file.
  let rejectsOut: WriteStream | undefined;
  const rejectsTemp = values.rejects ? `${values.rejects}.partial` : undefined;
  let rejectsFailed: Error | undefined;
  if (rejectsTemp) rejectsOut = createWriteStream(rejectsTemp).on('error', (err) => (rejectsFailed ??= err));
  const startedAt = Date.now();
  let lastProgress = startedAt;
  let progressShown = false;
  // Ctrl+C or SIGTERM stops before the next line: the batches under way finish, nothing is left half-written and no
  // temporary file (the deferred lines' spool, the rejects file's .partial) is left behind.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  let summary: ImportSummary;
  try {
    summary = await importEvents(db, readLines(file), {
      signal: stop.signal,
      source: file === '-' ? 'stdin' : file,
      strict: values.strict ?? false,
      batchSize,
      onRejected: async (raw, _rejection, rawBytes) => {
        // A line that is not UTF-8 is written as the bytes it had: "unchanged" holds for it too.
        if (!rejectsOut || rejectsFailed) return;
        if (!rejectsOut.write(rawBytes ? Buffer.concat([rawBytes, Buffer.from('\n')]) : `${raw}\n`)) await once(rejectsOut, 'drain');
      },
      onProgress: (p) => {
        if (values.json || Date.now() - lastProgress < 1000) return;
        lastProgress = Date.now();
        progressShown = true;
        const line = `… ${p.lines.toLocaleString('en-US')} lines: ${p.accepted.toLocaleString('en-US')} accepted, ${p.duplicates.toLocaleString('en-US')} duplicates, ${p.rejected.toLocaleString('en-US')} rejected`;
        io.stderr.write(io.interactive ? `\r${line}` : `${line}\n`);
      },
    });
  } catch (err) {
    if (!(err instanceof ImportStopped)) throw err;
    rejectsOut?.destroy();
    if (rejectsTemp) rmSync(rejectsTemp, { force: true });
    if (io.interactive && progressShown) io.stderr.write('\n');
    write(
      io.stderr,
      values.strict
        ? 'Stopped: nothing was imported (--strict). Run the same command again to import the file.'
        : 'Stopped: what was imported before is kept, in whole batches. Run the same command again to complete the import (stored lines are skipped as duplicates).',
    );
    return 130;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  if (rejectsOut && rejectsTemp && values.rejects) {
    if (!rejectsFailed) {
      rejectsOut.end();
      await once(rejectsOut, 'finish').catch((err: Error) => (rejectsFailed ??= err));
    }
    if (rejectsFailed) {
      write(io.stderr, `The rejected lines could not be written to ${values.rejects} (${rejectsFailed.message}); the import itself went on.`);
    } else {
      renameSync(rejectsTemp, values.rejects);
    }
  }
  if (io.interactive && progressShown) io.stderr.write('\n');
  if (values.json) {
    write(io.stdout, JSON.stringify(importSummaryJson(summary, Date.now() - startedAt)));
  } else {
    write(io.stdout, humanSummary(summary, values.rejects, Date.now() - startedAt));
  }
  return summary.status === 'refused' ? 1 : 0;
}

async function importOverHttp(
  file: string,
  values: { url?: string; token?: string; json?: boolean; strict?: boolean; rejects?: string; 'batch-size'?: string },
  io: CliIo,
): Promise<number> {
  const url = values.url!;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new UsageError(`--url: "${url}" is not an http(s) URL`);
  if (values.rejects !== undefined) {
    throw new UsageError('--rejects needs the database: with --url the answer lists the first 100 rejected lines (line number, reason)');
  }
  if (values['batch-size'] !== undefined) throw new UsageError('--batch-size goes with a local import, not --url');
  const token = values.token ?? loadConfig(io.env).INGEST_TOKEN;
  if (token === undefined) throw new UsageError('--url needs the app\'s ingest token: --token T, or set INGEST_TOKEN');
  const startedAt = Date.now();
  const answer = await sendToIngest({ file, url, token, strict: values.strict ?? false });
  if (values.json) write(io.stdout, JSON.stringify(answer));
  else write(io.stdout, humanSummary(summaryFromJson(answer), null, Date.now() - startedAt));
  return answer.status === 'refused' ? 1 : 0;
}

function summaryFromJson(json: ImportSummaryJson): ImportSummary {
  return {
    importId: json.import_id,
    status: json.status,
    lines: json.lines,
    accepted: json.accepted,
    duplicates: json.duplicates,
    rejected: json.rejected,
    rejections: json.rejections,
  };
}

/** rejectsFile null: the import ran in the app (--url), where no rejects file can be written. */
/** Refuses an output path whose folder is missing or that is a folder itself, before any work is done. */
function checkWritableFile(file: string, option: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${option}: ${file} is a folder; give a file name (in it, say)`);
  const folder = path.dirname(path.resolve(file));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`${option}: the folder ${folder} does not exist; create it first`);
}

function humanSummary(s: ImportSummary, rejectsFile: string | undefined | null, ms: number): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines: string[] = [];
  if (s.status === 'refused') {
    lines.push(`Strict import refused: ${n(s.rejected)} bad line(s); nothing was imported.`);
  } else {
    lines.push(
      `Imported ${n(s.lines)} lines in ${(ms / 1000).toFixed(1)} s: ${n(s.accepted)} accepted, ${n(s.duplicates)} duplicates skipped, ${n(s.rejected)} rejected.`,
    );
  }
  for (const r of s.rejections.slice(0, 20)) lines.push(`  line ${r.line}: ${r.reason}`);
  if (s.rejected > 20) lines.push(`  … and ${n(s.rejected - 20)} more rejected line(s)`);
  if (s.status === 'refused') {
    // Nothing was imported: the whole file goes again, not only its bad lines.
    lines.push(
      `Fix the bad line(s) in the file itself and ${rejectsFile === null ? 'send' : 'import'} the whole file again.` +
        (rejectsFile ? ` The bad lines are also in ${rejectsFile}, for reference.` : ''),
    );
  } else if (s.rejected > 0) {
    lines.push(
      rejectsFile === null
        ? 'Fix the rejected lines in the file and send it again (accepted lines are skipped as duplicates); --json lists the first 100.'
        : rejectsFile
          ? `Rejected lines were written to ${rejectsFile}: fix them and import that file again.`
          : 'Add --rejects FILE to write the rejected lines to a file you can fix and import again.',
    );
  }
  return lines.join('\n');
}

async function reportCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return write(io.stdout, USAGE), 0;
  const [query, extra] = positionals;
  if (query === undefined) throw new UsageError('report needs a journey id or name');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const period = periodFrom(values);
  const db = await openDb();
  const journey = (await loadJourney(db, await resolveJourneyId(db, query)))!;
  const report = await computeReport(db, journey, period);
  write(io.stdout, values.json ? JSON.stringify(report) : renderReportTable(report));
  return 0;
}

async function exportCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, {
    step: { type: 'string' },
    status: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return write(io.stdout, USAGE), 0;
  const [query, kind, extra] = positionals;
  if (query === undefined || kind === undefined) throw new UsageError('export needs a journey and an export kind');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!(EXPORT_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown export "${kind}": use one of ${EXPORT_KINDS.join(', ')}`);
  }
  if (values.status !== undefined && !(STEP_USER_STATUSES as readonly string[]).includes(values.status)) {
    throw new UsageError(`unknown status "${values.status}": use one of ${STEP_USER_STATUSES.join(', ')}`);
  }
  if (kind !== 'step-users' && (values.step !== undefined || values.status !== undefined)) {
    throw new UsageError('--step and --status go with the step-users export only');
  }
  if (values.out !== undefined) checkWritableFile(values.out, '--out');
  const period = periodFrom(values);
  const db = await openDb();
  const journey = (await loadJourney(db, await resolveJourneyId(db, query)))!;
  const req: ExportRequest = {
    journey,
    kind: kind as ExportKind,
    period,
    stepId: values.step ?? null,
    status: (values.status as StepUserStatus | undefined) ?? null,
  };
  const rows = await countExportRows(db, req);
  if (rows === 0) {
    // The words of the Slack answer (a journey without a conversion event has no conversions, not 0).
    write(io.stderr, renderMessageAsText(nothingToExport(req, formatPeriodLabel(period, 'UTC'))).trimEnd());
    return 0;
  }
  // pipeline() waits while the output drains and, when either side fails, closes the file and ends the export.
  const csv = Readable.from(exportCsvBytes(db, req));
  if (values.out) {
    const temp = `${values.out}.partial`;
    try {
      await pipeline(csv, createWriteStream(temp));
      renameSync(temp, values.out);
    } catch (err) {
      // Never a half CSV of External IDs left beside the file asked for.
      rmSync(temp, { force: true });
      throw err;
    }
    write(io.stderr, `Wrote ${rows.toLocaleString('en-US')} rows to ${values.out}`);
  } else {
    // Standard output stays open for whatever the process writes after.
    await pipeline(csv, io.stdout, { end: false });
  }
  return 0;
}

async function journeysCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (values.help) return write(io.stdout, USAGE), 0;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const db = await openDb();
  const names = await listJourneyNames(db);
  if (values.json) {
    write(io.stdout, JSON.stringify(names.map((j) => ({ journey_id: j.journeyId, name: j.name }))));
  } else if (names.length === 0) {
    write(io.stdout, 'No journeys yet. Import events (npm run cli -- import FILE) or load demo data (npm run cli -- demo).');
  } else {
    for (const j of names) write(io.stdout, `${j.journeyId.padEnd(24)} ${j.name}`);
  }
  return 0;
}

async function repairCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return write(io.stdout, USAGE), 0;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const db = await openDb();
  const started = performance.now();
  await repairDerivedState(db);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  write(io.stdout, `Recomputed the derived values and rollups of every journey from the stored events in ${seconds} s.`);
  return 0;
}

async function demoCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, { seed: { type: 'string' }, scale: { type: 'string' } });
  if (values.help) return write(io.stdout, USAGE), 0;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const scale = values.scale === undefined ? undefined : Number(values.scale);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError('--seed must be a whole number');
  if (scale !== undefined && !(scale > 0)) throw new UsageError('--scale must be a positive number');
  const db = await openDb();
  // Only into an empty database, as npm start loads it: its users would meet the ones there (re-entries refused, their
  // conversions counted twice), and a second demo set, dated by a later clock, would not be duplicates of the first.
  const existing = await listJourneyNames(db);
  if (existing.length > 0) {
    write(
      io.stderr,
      `The database holds ${existing.length === 1 ? 'a journey' : `${existing.length} journeys`} already (${existing.slice(0, 3).map((j) => j.journeyId).join(', ')}${existing.length > 3 ? ', …' : ''}): demo data goes only into an empty one. Point PGLITE_DIR (or DATABASE_URL) at a new database for it.`,
    );
    return 1;
  }
  const { loadDemoData } = await import('../db/demo-data.js');
  const summary = await loadDemoData(db, { now: io.now(), seed, scale });
  write(io.stdout, `Demo data: ${summary.accepted.toLocaleString('en-US')} events accepted, ${summary.duplicates.toLocaleString('en-US')} already there, ${summary.rejected} rejected.`);
  return summary.rejected > 0 ? 1 : 0;
}

async function slashCommand(args: string[], io: CliIo, openDb: OpenDb): Promise<number> {
  const { values, positionals } = parse(args, { tz: { type: 'string' } });
  if (values.help) return write(io.stdout, USAGE), 0;
  const text = positionals.join(' ').replace(/^\/journey\s*/, '');
  const tz = values.tz ?? loadConfig(io.env).DEFAULT_TZ;
  if (!isValidTimeZone(tz)) throw new UsageError(`--tz: "${tz}" is not an IANA time zone (like Europe/Istanbul or UTC)`);
  const db = await openDb();
  const config = loadConfig(io.env);
  const { error, refused } = await previewCommand({ db, now: io.now, campaignReportUrl: config.CAMPAIGN_REPORT_URL }, text, {
    tz,
    write: async (chunk) => {
      if (!io.stdout.write(chunk)) await once(io.stdout, 'drain');
    },
  });
  if (error) write(io.stderr, `(the answer above stands for an error: ${(error as Error).message ?? String(error)})`);
  // An answer that says what was wrong (an unknown journey, a bad period) is a refusal, as with report and export.
  return refused ? 1 : 0;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A closed pipe (| head) is the reader's choice, not a failure.
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const code = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    now: () => new Date(),
    interactive: process.stderr.isTTY === true,
  });
  process.exitCode = code;
}
