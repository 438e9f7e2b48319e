// Benchmark helper run as its own process: streams one CSV export to a file and reports rows, time and peak RSS,
// so the memory figure is the exporting process's alone. Usage: export-child.ts '<DbConfig JSON>' journey kind out.
import { createReadStream, createWriteStream } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDb, type DbConfig } from '../db/client.js';
import { exportCsvBytes, type ExportKind } from '../reports/exports.js';
import { loadJourney } from '../reports/metrics.js';

const [configJson, journeyId, kind, outFile] = process.argv.slice(2);
if (!configJson || !journeyId || !kind || !outFile) throw new Error('usage: export-child.ts <db config JSON> <journey> <kind> <out file>');
const handle = await createDb(JSON.parse(configJson) as DbConfig);
try {
  const journey = await loadJourney(handle.db, journeyId);
  if (!journey) throw new Error(`no journey ${journeyId}`);
  // How long this process's event loop was held at a time during the export: with PGlite, its statements' length
  // if the database ran in this thread.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = performance.now();
  await pipeline(
    Readable.from(exportCsvBytes(handle.db, { journey, kind: kind as ExportKind, period: { from: null, to: null } })),
    createWriteStream(outFile),
  );
  const ms = performance.now() - started;
  loop.disable();
  const loopMaxMs = loop.max / 1e6;
  // maxRSS is the process's peak resident set in KiB, whatever was freed since.
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  // Rows are counted in the written file, after the clock stopped (the bench rows hold no line breaks).
  let newlines = 0;
  for await (const buf of createReadStream(outFile) as AsyncIterable<Buffer>) {
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) newlines++;
  }
  process.stdout.write(`${JSON.stringify({ rows: newlines - 1, ms, peakRssMiB, loopMaxMs })}\n`);
} finally {
  await handle.close();
}
