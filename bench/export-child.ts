// Benchmark helper run as its own process: streams one CSV export to a file and reports rows, time and peak RSS,
// so the memory figure is the exporting process's alone. Usage: export-child.ts '<DbConfig JSON>' journey kind out.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createDb, type DbConfig } from '../db/client.js';
import { exportCsv, type ExportKind } from '../reports/exports.js';
import { loadJourney } from '../reports/metrics.js';

const [configJson, journeyId, kind, outFile] = process.argv.slice(2);
if (!configJson || !journeyId || !kind || !outFile) throw new Error('usage: export-child.ts <db config JSON> <journey> <kind> <out file>');
const handle = await createDb(JSON.parse(configJson) as DbConfig);
try {
  const journey = await loadJourney(handle.db, journeyId);
  if (!journey) throw new Error(`no journey ${journeyId}`);
  const out = createWriteStream(outFile);
  const started = performance.now();
  let newlines = 0;
  let bytes = 0;
  for await (const chunk of exportCsv(handle.db, { journey, kind: kind as ExportKind, period: { from: null, to: null } })) {
    for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) newlines++;
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const ms = performance.now() - started;
  // maxRSS is the process's peak resident set in KiB, whatever was freed since.
  const rows = newlines - 1;
  process.stdout.write(`${JSON.stringify({ rows, bytes, ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
} finally {
  await handle.close();
}
