// `npm run bench`: generates the benchmark data set and measures, in one run and per database, import throughput,
// report latency (engine and naive baseline), CSV export speed and memory, chart rendering and slash-command latency.
// Prints a table and, last, one JSON line with every figure. Options: --entries N, --db postgres|pglite|both
// (default: postgres when DATABASE_URL is set, else pglite), --runs N (report repetitions), --naive-runs N,
// --commands N, --concurrency N, --export-under-tsx (the export measured a second time under tsx), --keep.
// Progress lines on stderr carry the seconds since the database's start.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { build } from 'esbuild';
import pg from 'pg';
import { createDb, queryRows, type DbConfig, type DbHandle } from '../db/client.js';
import { importEvents, readLines } from '../db/import/import-events.js';
import { computeReport, loadJourney } from '../reports/metrics.js';
import { computeNaiveReport } from '../reports/naive-metrics.js';
import { parsePeriod } from '../reports/periods.js';
import type { JourneyInfo, JourneyReport, Period } from '../reports/report-types.js';
import type { FunnelChart } from '../reports/charts.js';
import { startSlackApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { loopbackAppEnv, signedRequest, slashCommandBody, startFakeSlack } from '../test/support/fake-slack.js';
import { BENCH_JOURNEY_ID, writeBenchEvents, type BenchDataSummary } from './generate.js';

const NOW = new Date('2026-11-30T15:00:00Z');
/** +05:30: the 7-day period's bounds fall on half hours, so reports also read raw rows (the harder case). */
const TZ = 'Asia/Kolkata';
const SECRET = 'bench-signing-secret';
const here = path.dirname(fileURLToPath(import.meta.url));

type DbKind = 'postgres' | 'pglite';

interface Options {
  entries: number;
  dbs: DbKind[];
  runs: number;
  naiveRuns: number;
  commands: number;
  concurrency: number;
  exportUnderTsx: boolean;
  keep: boolean;
  databaseUrl: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000000' },
      db: { type: 'string' },
      runs: { type: 'string', default: '20' },
      'naive-runs': { type: 'string', default: '3' },
      commands: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '10' },
      'export-under-tsx': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  // The benchmark is a developer's script: it reads DATABASE_URL itself rather than through the app's config.
  const databaseUrl = process.env.DATABASE_URL || undefined;
  // One database a run unless asked for both: Postgres when DATABASE_URL names a server, else the embedded one.
  const db = values.db ?? (databaseUrl ? 'postgres' : 'pglite');
  if (!['postgres', 'pglite', 'both'].includes(db)) throw new Error(`--db must be postgres, pglite or both, not ${db}`);
  if (db !== 'pglite' && !databaseUrl) throw new Error('--db postgres needs DATABASE_URL (a server where the bench may create a database)');
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    entries: int('entries', values.entries),
    dbs: db === 'both' ? ['postgres', 'pglite'] : [db as DbKind],
    runs: int('runs', values.runs),
    naiveRuns: int('naive-runs', values['naive-runs']),
    commands: int('commands', values.commands),
    concurrency: int('concurrency', values.concurrency),
    exportUnderTsx: values['export-under-tsx'],
    keep: values.keep,
    databaseUrl,
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

async function timeRuns(runs: number, warmups: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmups; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

type Figures = Record<string, number | boolean | string | null>;

interface OpenedDb {
  handle: DbHandle;
  config: DbConfig;
  drop(): Promise<void>;
}

async function openDb(kind: DbKind, opts: Options, workDir: string): Promise<OpenedDb> {
  if (kind === 'pglite') {
    const config: DbConfig = { kind: 'pglite', dir: path.join(workDir, 'pglite') };
    return { handle: await createDb(config), config, drop: async () => rmSync(config.dir!, { recursive: true, force: true }) };
  }
  const name = `bench_${process.pid}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: opts.databaseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(opts.databaseUrl!);
  url.pathname = `/${name}`;
  const config: DbConfig = { kind: 'postgres', url: url.toString(), poolSize: 10 };
  return { handle: await createDb(config), config, drop: () => admin(`drop database if exists ${name} with (force)`) };
}

/**
 * The export child compiled to one JavaScript file (its packages stay external), as a production build runs it:
 * under tsx the same process starts at ~135 MiB, most of it the TypeScript loader's. Written below node_modules so
 * that Node resolves the packages from there.
 */
async function compiledExportChild(): Promise<string> {
  const outfile = path.join(here, '../node_modules/.cache/journey-bench/export-child.mjs');
  await build({
    entryPoints: [path.join(here, 'export-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'warning',
    // db/client.ts finds its migrations beside itself.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(path.join(here, '../db/client.ts')).href) },
  });
  return outfile;
}

/** Runs the export in a child process, so its peak RSS is the exporting process's own. */
function exportInChild(args: string[], config: DbConfig, out: string): Promise<{ rows: number; ms: number; peakRssMiB: number; loopMaxMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, JSON.stringify(config), BENCH_JOURNEY_ID, 'entries', out], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`export child exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { rows: number; ms: number; peakRssMiB: number; loopMaxMs: number });
    });
  });
}

/** The local chart renderer (reports/chart-png.ts) when this tree has one; loaded by path so the bench runs without it. */
async function chartRenderer(): Promise<((chart: FunnelChart) => Buffer) | null> {
  const file = path.join(here, '../reports/chart-png.ts');
  if (!existsSync(file)) return null;
  const mod = (await import(file)) as { renderChartPng?: (chart: FunnelChart) => Buffer };
  return mod.renderChartPng ?? null;
}

/** 100 signed slash commands at concurrency 10 against the real app and a fake Slack: request to answer posted. */
async function slashLatency(db: DbHandle, opts: Options): Promise<{ concurrent: number[]; sequential: number[] }> {
  const slack = await startFakeSlack({ userTz: TZ });
  const config = loadConfig(loopbackAppEnv(slack, SECRET, { SLACK_BOT_TOKEN: 'xoxb-bench' }));
  const app = await startSlackApp({ config, db: db.db, now: () => NOW, log: createLogger('error', () => {}) });
  const texts = [`overview ${BENCH_JOURNEY_ID}`, `steps ${BENCH_JOURNEY_ID}`, `overview ${BENCH_JOURNEY_ID} 7d`, `steps ${BENCH_JOURNEY_ID} 7d`];
  const times: number[] = [];
  const sequential: number[] = [];
  try {
    const answered = async (id: string) => {
      while (!slack.responses.some((r) => r.id === id)) await new Promise((r) => setTimeout(r, 1));
    };
    const one = async (i: number) => {
      const id = `cmd-${i}`;
      const signed = signedRequest(SECRET, slashCommandBody({ text: texts[i % texts.length]!, responseUrl: slack.responseUrl(id) }));
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${app.port}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
      if (res.status !== 200) throw new Error(`slash command answered HTTP ${res.status}`);
      await answered(id);
      times.push(performance.now() - started);
    };
    // A warm-up command per text (time zone lookup, first plans), then a few one at a time (the cost of one
    // command without queueing), then the measured ones at the given concurrency.
    for (let i = 0; i < texts.length; i++) await one(-1 - i);
    times.length = 0;
    for (let i = 0; i < 2 * texts.length; i++) await one(-100 - i);
    sequential.push(...times);
    times.length = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < opts.commands) await one(next++);
      }),
    );
  } finally {
    await app.stop();
    await slack.close();
  }
  return { concurrent: times, sequential };
}

async function benchDb(kind: DbKind, opts: Options, file: string, data: BenchDataSummary, workDir: string): Promise<Figures> {
  const since = performance.now();
  const log = (msg: string) => process.stderr.write(`[${kind} +${((performance.now() - since) / 1000).toFixed(1)} s] ${msg}\n`);
  const opened = await openDb(kind, opts, workDir);
  let open = true;
  const f: Figures = {};
  try {
    log(`importing ${data.lines.toLocaleString('en')} lines …`);
    // The longest the event loop was held at a time during the import: what a Slack acknowledgement could wait.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const importStarted = performance.now();
    const summary = await importEvents(opened.handle.db, readLines(file), { source: file });
    const importS = (performance.now() - importStarted) / 1000;
    loop.disable();
    if (summary.rejected > 0) throw new Error(`the bench data had ${summary.rejected} rejected lines: ${JSON.stringify(summary.rejections.slice(0, 3))}`);
    f.import_s = round(importS);
    f.import_events_per_s = Math.round(summary.lines / importS);
    f.imported_events = summary.accepted;
    f.import_loop_delay_max_ms = round(loop.max / 1e6);
    // Reports are measured warm, on fresh statistics, as a server that has run autovacuum would have them.
    await opened.handle.db.execute(sql`vacuum analyze`);
    const sizes = await queryRows<{ mb: unknown }>(opened.handle.db, sql`select pg_database_size(current_database()) / 1048576 as mb`);
    f.database_mib = Number(sizes[0]?.mb ?? 0);

    const journey = (await loadJourney(opened.handle.db, BENCH_JOURNEY_ID)) as JourneyInfo;
    const periods: Array<[string, Period]> = [
      ['all_time', { from: null, to: null }],
      ['7d', parsePeriod('7d', TZ, NOW)],
    ];
    let equal = true;
    for (const [name, period] of periods) {
      log(`reports ${name} …`);
      let fast: JourneyReport | undefined;
      const times = await timeRuns(opts.runs, 2, async () => (fast = await computeReport(opened.handle.db, journey, period)));
      let naive: JourneyReport | undefined;
      // No warm-up run for the baseline: it reads what vacuum analyze has just read, and the median of its runs
      // leaves out one slow first run. A warm-up would add a fourth run of its seconds at every scale.
      const naiveTimes = await timeRuns(opts.naiveRuns, 0, async () => (naive = await computeNaiveReport(opened.handle.db, journey, period)));
      equal &&= isDeepStrictEqual(fast, naive);
      f[`report_${name}_p50_ms`] = round(percentile(times, 50));
      f[`report_${name}_p95_ms`] = round(percentile(times, 95));
      f[`naive_${name}_p50_ms`] = round(percentile(naiveTimes, 50));
    }
    f.report_p50_ms = Math.max(Number(f.report_all_time_p50_ms), Number(f.report_7d_p50_ms));
    f.report_p95_ms = Math.max(Number(f.report_all_time_p95_ms), Number(f.report_7d_p95_ms));
    f.naive_report_p50_ms = Math.max(Number(f.naive_all_time_p50_ms), Number(f.naive_7d_p50_ms));
    f.naive_over_engine = round(Number(f.naive_report_p50_ms) / Number(f.report_p50_ms));
    f.reports_equal_naive = equal;

    const render = await chartRenderer();
    if (render) {
      const { buildFunnelChart } = await import('../reports/charts.js');
      const report = await computeReport(opened.handle.db, journey, periods[0]![1]);
      const chart = buildFunnelChart({ report, journey, periodLabel: 'all time' });
      const times = await timeRuns(10, 1, async () => render(chart));
      f.chart_render_p50_ms = round(percentile(times, 50));
    } else {
      log('no local chart renderer (reports/chart-png.ts) in this tree: chart rendering not measured');
      f.chart_render_p50_ms = null;
    }

    log('slash commands …');
    const slash = await slashLatency(opened.handle, opts);
    f.slash_p50_ms = round(percentile(slash.concurrent, 50));
    f.slash_p95_ms = round(percentile(slash.concurrent, 95));
    f.slash_sequential_p50_ms = round(percentile(slash.sequential, 50));

    log('export …');
    // PGlite's folder takes one process at a time: the exporting child opens it while this one has it closed.
    await opened.handle.close();
    open = false;
    const csv = path.join(workDir, `export-${kind}.csv`);
    const exported = await exportInChild([await compiledExportChild()], opened.config, csv);
    // Under tsx only when asked: the loader adds ~55 MiB and a few seconds, and a production build runs compiled.
    const underTsx = opts.exportUnderTsx
      ? await exportInChild(['--import', 'tsx', path.join(here, 'export-child.ts')], opened.config, csv)
      : null;
    rmSync(csv, { force: true });
    log(`exported ${exported.rows.toLocaleString('en')} rows in ${(exported.ms / 1000).toFixed(1)} s`);
    f.export_rows = exported.rows;
    f.export_rows_per_s = Math.round(exported.rows / (exported.ms / 1000));
    f.export_peak_rss_mib = round(exported.peakRssMiB);
    f.export_loop_delay_max_ms = round(exported.loopMaxMs);
    if (underTsx) {
      f.export_tsx_rows_per_s = Math.round(underTsx.rows / (underTsx.ms / 1000));
      f.export_tsx_peak_rss_mib = round(underTsx.peakRssMiB);
    }
  } finally {
    if (open) await opened.handle.close();
    if (opts.keep) log(`kept the database: ${opened.config.kind === 'postgres' ? opened.config.url : opened.config.dir}`);
    else await opened.drop();
    log('done');
  }
  return f;
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ server_version: string }>('show server_version');
    return r.rows[0]?.server_version ?? '?';
  } finally {
    await client.end();
  }
}

function table(results: Array<[DbKind, Figures]>): string {
  const rows: Array<[string, string]> = [
    ['import (events/s)', 'import_events_per_s'],
    ['report all time p50 / p95 (ms)', 'report_all_time_p50_ms|report_all_time_p95_ms'],
    [`report 7d ${TZ} p50 / p95 (ms)`, 'report_7d_p50_ms|report_7d_p95_ms'],
    ['naive all time / 7d p50 (ms)', 'naive_all_time_p50_ms|naive_7d_p50_ms'],
    ['naive ÷ engine (p50)', 'naive_over_engine'],
    ['engine equals naive', 'reports_equal_naive'],
    ['export rows/s (entries)', 'export_rows_per_s'],
    ['export peak RSS (MiB)', 'export_peak_rss_mib'],
    ['event loop held at most (ms): import / export', 'import_loop_delay_max_ms|export_loop_delay_max_ms'],
    ...(results.some(([, f]) => 'export_tsx_rows_per_s' in f)
      ? [['same export under tsx: rows/s, RSS', 'export_tsx_rows_per_s|export_tsx_peak_rss_mib'] as [string, string]]
      : []),
    ['chart render p50 (ms)', 'chart_render_p50_ms'],
    ['slash p50 / p95 (ms), 10 at a time', 'slash_p50_ms|slash_p95_ms'],
    ['slash p50 (ms), one at a time', 'slash_sequential_p50_ms'],
    ['database size (MiB)', 'database_mib'],
  ];
  const cell = (f: Figures, keys: string) => keys.split('|').map((k) => String(f[k] ?? '–')).join(' / ');
  const header = ['', ...results.map(([k]) => k)];
  const lines = [header, ...rows.map(([label, keys]) => [label, ...results.map(([, f]) => cell(f, keys))])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const started = performance.now();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'journey-bench-'));
  const machine = {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? '?',
    memory_gib: round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: opts.dbs.includes('postgres') ? await serverVersion(opts.databaseUrl!) : null,
    load_average_start: os.loadavg().map((l) => round(l, 2)),
  };
  try {
    const file = path.join(workDir, 'events.ndjson');
    process.stderr.write(`generating ${opts.entries.toLocaleString('en')} entries …\n`);
    const genStarted = performance.now();
    const data = await writeBenchEvents(file, { entries: opts.entries, now: NOW });
    const generateS = round((performance.now() - genStarted) / 1000);
    const results: Array<[DbKind, Figures]> = [];
    for (const kind of opts.dbs) {
      const figures = await benchDb(kind, opts, file, data, workDir);
      process.stderr.write(`[${kind}] ${JSON.stringify(figures)}\n`);
      results.push([kind, figures]);
    }

    process.stdout.write(`\nJourney analytics benchmark: ${opts.entries.toLocaleString('en')} entries, ${data.lines.toLocaleString('en')} events `);
    process.stdout.write(`(${data.stepEntries.toLocaleString('en')} step entries, ${data.messages.toLocaleString('en')} messages, ${data.lateLines.toLocaleString('en')} late lines)\n`);
    process.stdout.write(`${machine.nproc} cores (${machine.cpu}), ${machine.memory_gib} GiB, Node ${machine.node}${machine.postgres ? `, Postgres ${machine.postgres}` : ''}\n\n`);
    process.stdout.write(`${table(results)}\n\n`);
    const json: Record<string, unknown> = { entries: opts.entries, events: data.lines, generate_s: generateS };
    // Unprefixed figures are the first database's (Postgres when it ran); every database's come prefixed too.
    Object.assign(json, results[0]![1]);
    for (const [kind, f] of results) for (const [k, v] of Object.entries(f)) json[`${kind}_${k}`] = v;
    json.machine = { ...machine, load_average_end: os.loadavg().map((l) => round(l, 2)) };
    json.total_s = round((performance.now() - started) / 1000);
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } finally {
    if (opts.keep) process.stderr.write(`kept the data set and work files in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
