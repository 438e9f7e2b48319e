// npm run load: sends signed /journey commands to the app (its own process, demo data, a fake Slack Web API
// on loopback) and prints failures and latencies. Figures to read, not a timed test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { INTERNAL_TEXT, SLOW_TEXT, UNAVAILABLE_TEXT } from '../commands/error-answers.js';
import { createDb } from '../db/client.js';
import { loadDemoData } from '../db/demo-data.js';
import { runNode } from '../test/support/child-process.js';
import { loopbackAppEnv, signedRequest, slashCommandBody, startFakeSlack } from '../test/support/fake-slack.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '20' },
    scale: { type: 'string', default: '1' },
    /** A scratch Postgres database instead of the embedded one (demo data is loaded into it). */
    'database-url': { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const SECRET = 'load-test-signing-secret';
const ACK_LIMIT_MS = 3000;

/** What marketers type, weighted towards the report answers that read the most data. */
const COMMANDS = [
  'overview welcome',
  'overview welcome 7d',
  'steps welcome 30d',
  'steps cart-abandon',
  'step welcome w1',
  'overview winback last-month',
  'list',
  'overview feature-adoption this-month',
  'help',
  'overview wellcome',
];

const work = mkdtempSync(path.join(tmpdir(), 'ja-load-'));
const dir = path.join(work, 'pglite');
const databaseUrl = values['database-url'];
const seed = await createDb(databaseUrl ? { kind: 'postgres', url: databaseUrl } : { kind: 'pglite', dir });
const demo = await loadDemoData(seed.db, { now: new Date(), scale: Number(values.scale) });
await seed.close();
const database: Record<string, string> = databaseUrl ? { DATABASE_URL: databaseUrl } : { PGLITE_DIR: dir };

const slack = await startFakeSlack();
const app = runNode('src/main.ts', [], {
  ...database,
  ...loopbackAppEnv(slack, SECRET, { SLACK_BOT_TOKEN: 'xoxb-load', LOG_LEVEL: 'info', DIGEST_SCHEDULER: 'off' }),
});
const port = (await app.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\/slack\/events/))[1];

interface Sample {
  command: string;
  sentAt: number;
  ackMs?: number;
  answerMs?: number;
  failure?: string;
}
const samples: Sample[] = [];

/** The answer of request i: its response_url post, or a post in its own channel (answers with a thread). */
function answered(i: number): string | undefined {
  const response = slack.responses.find((r) => r.id === `load-${i}`);
  if (response) return JSON.stringify(response.body);
  const post = slack.calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === `C_LOAD_${i}`);
  return post ? JSON.stringify(post.args) : undefined;
}

async function send(i: number): Promise<void> {
  const command = COMMANDS[i % COMMANDS.length]!;
  const sample: Sample = { command, sentAt: Date.now() };
  samples[i] = sample;
  const signed = signedRequest(SECRET, slashCommandBody({ text: command, responseUrl: slack.responseUrl(`load-${i}`), channelId: `C_LOAD_${i}`, userId: `U_LOAD_${i % 50}` }));
  try {
    const res = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
    await res.arrayBuffer();
    sample.ackMs = Date.now() - sample.sentAt;
    if (res.status !== 200) sample.failure = `HTTP ${res.status}`;
    else if (sample.ackMs > ACK_LIMIT_MS) sample.failure = `acknowledged after ${sample.ackMs} ms`;
  } catch (err) {
    sample.failure = `request failed: ${(err as Error).message}`;
    return;
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const text = answered(i);
    if (text !== undefined) {
      sample.answerMs = Date.now() - sample.sentAt;
      for (const bad of [INTERNAL_TEXT, SLOW_TEXT, UNAVAILABLE_TEXT]) {
        if (text.includes(bad.slice(0, 30))) sample.failure ??= `answered with an error: ${bad.slice(0, 40)}…`;
      }
      return;
    }
    if (Date.now() > deadline) {
      sample.failure ??= 'no answer within 120 s';
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < REQUESTS) await send(next++);
  }),
);
const seconds = (Date.now() - started) / 1000;

app.child.kill('SIGTERM');
const { code } = await app.exited;
await slack.close();
rmSync(work, { recursive: true, force: true });

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const acks = samples.map((s) => s.ackMs).filter((x): x is number => x !== undefined);
const answers = samples.map((s) => s.answerMs).filter((x): x is number => x !== undefined);
const failures = samples.filter((s) => s.failure);
const ms = (x: number) => `${Math.round(x)} ms`;

console.log(`Demo data: ${(demo.accepted + demo.duplicates).toLocaleString('en-US')} events (scale ${values.scale}), ${databaseUrl ? 'Postgres' : 'embedded database (PGlite)'}`);
console.log(`${REQUESTS} signed /journey commands, concurrency ${CONCURRENCY}, ${seconds.toFixed(1)} s (${(REQUESTS / seconds).toFixed(1)} commands/s)`);
console.log(`failures: ${failures.length}`);
for (const f of failures.slice(0, 10)) console.log(`  ${f.command}: ${f.failure}`);
console.log(`ack latency:    p50 ${ms(quantile(acks, 0.5))}, p95 ${ms(quantile(acks, 0.95))}, max ${ms(Math.max(...acks))}`);
console.log(`answer latency: p50 ${ms(quantile(answers, 0.5))}, p95 ${ms(quantile(answers, 0.95))}, max ${ms(Math.max(...answers))}`);
console.log(`app stopped with exit code ${code} after SIGTERM`);
process.exitCode = failures.length === 0 && Math.max(...acks) <= ACK_LIMIT_MS && code === 0 ? 0 : 1;
