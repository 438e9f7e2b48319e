// Writes the benchmark data set as NDJSON (EVENTS.md): one large journey, its users' conversions, late lines.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mulberry32 } from '../db/seeded-random.js';

export interface BenchDataOptions {
  /** Journey entries to generate (every figure of the benchmark is quoted per this number). */
  entries: number;
  /** The end of the data: nothing is dated later, and reports' "7d" is counted back from here. */
  now: Date;
  /** Days over which the entries arrive (ending at `now`). */
  days?: number;
  seed?: number;
}

export interface BenchDataSummary {
  lines: number;
  entries: number;
  stepEntries: number;
  messages: number;
  outcomes: number;
  exits: number;
  conversions: number;
  /** Lines written later than their timestamp says (late exits and conversions). */
  lateLines: number;
}

export const BENCH_JOURNEY_ID = 'bench';
export const BENCH_CONVERSION_EVENT = 'purchase';
const WINDOW_HOURS = 48;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Eight steps: two push, one email or in-app branch, a webhook step with outcomes, an SMS; ~7 step entries and ~5 messages an entry. */
export const BENCH_JOURNEY_LINE = JSON.stringify({
  type: 'journey',
  journey_id: BENCH_JOURNEY_ID,
  name: 'Onboarding at scale',
  conversion_event: BENCH_CONVERSION_EVENT,
  attribution_window_hours: WINDOW_HOURS,
  reentry: true,
  steps: [
    { step_id: 's1', name: 'Welcome push', kind: 'push', campaign_id: 'cmp-1', next: ['s2'] },
    { step_id: 's2', name: 'Wait 1 day', kind: 'wait', next: ['s3'] },
    { step_id: 's3', name: 'Opened the app?', kind: 'condition', next: ['s4', 's5'] },
    { step_id: 's4', name: 'Tips email', kind: 'email', campaign_id: 'cmp-2', next: ['s6'] },
    { step_id: 's5', name: 'Tour in-app', kind: 'in_app', campaign_id: 'cmp-3', next: ['s6'] },
    { step_id: 's6', name: 'Score (webhook)', kind: 'custom', next: ['s7'] },
    { step_id: 's7', name: 'Offer push', kind: 'push', campaign_id: 'cmp-4', next: ['s8'] },
    { step_id: 's8', name: 'Last-chance SMS', kind: 'sms', campaign_id: 'cmp-5', next: [] },
  ],
});

const PLATFORMS = ['android', 'android', 'android', 'ios', 'ios', 'iOS', 'web', 'huawei'] as const;
const OUTCOMES = ['score_high', 'score_low', 'score_low', 'webhook_timeout'] as const;

/** Lines of one day a packed sort key can index (see flushBefore). */
const INDEX_SPAN = 2 ** 25;

interface Pending {
  /** When the line reaches the file: its timestamp, or later for a late line. */
  key: number;
  line: string;
}

/**
 * Generates `entries` journey entries over `days` days, with their step entries, messages, outcomes, exits and the
 * users' conversions (in the window, after it, before the entry, repeated), written in time order except ~2 % of
 * exits and conversions that arrive one to three days late. Deterministic for a seed. Streams: memory holds a few days.
 */
export async function writeBenchEvents(file: string, options: BenchDataOptions): Promise<BenchDataSummary> {
  const r = mulberry32(options.seed ?? 7);
  const nowMs = options.now.getTime();
  const days = options.days ?? 56;
  const startMs = nowMs - days * DAY;
  const users = Math.max(1, Math.round(options.entries * 0.8));
  const out = createWriteStream(file);
  const summary: BenchDataSummary = { lines: 0, entries: 0, stepEntries: 0, messages: 0, outcomes: 0, exits: 0, conversions: 0, lateLines: 0 };
  // Lines waiting for their day: buckets by day index of the moment they reach the file.
  const buckets = new Map<number, Pending[]>();
  let eventSeq = 0;
  let chunk: string[] = [];

  const writeChunk = async () => {
    const text = chunk.join('');
    chunk = [];
    if (!out.write(text)) await once(out, 'drain');
  };
  const write = async (text: string) => {
    chunk.push(text);
    if (chunk.length >= 4096) await writeChunk();
  };
  const emit = (ms: number, body: string, late = false) => {
    if (ms > nowMs) return false;
    let key = ms;
    if (late) {
      key = Math.min(nowMs, ms + DAY + Math.floor(r() * 2 * DAY));
      summary.lateLines++;
    }
    const day = Math.floor(key / DAY);
    let bucket = buckets.get(day);
    if (!bucket) buckets.set(day, (bucket = []));
    const id = (eventSeq++).toString(36);
    const line = `{"type":${body},"event_id":"b-${id}","at":"${new Date(ms).toISOString()}"}\n`;
    // Flattened now (charCodeAt does), while its pieces are young: a line kept for days as a rope of a dozen
    // strings made garbage collection and the final join cost more than generating it.
    line.charCodeAt(0);
    bucket.push({ key, line });
    summary.lines++;
    return true;
  };
  const flushBefore = async (day: number) => {
    for (const d of [...buckets.keys()].sort((a, b) => a - b)) {
      if (d >= day) break;
      const bucket = buckets.get(d)!;
      buckets.delete(d);
      // In arrival order, ties in the order emitted: (ms into the day, index) packed into one double (27 + 25 bits)
      // and sorted natively, which is several times faster than a comparator over a day's ~25,000 lines.
      if (bucket.length >= INDEX_SPAN) throw new Error(`more than ${INDEX_SPAN} lines reach the file on one day`);
      const order = new Float64Array(bucket.length);
      for (let i = 0; i < bucket.length; i++) order[i] = (bucket[i]!.key - d * DAY) * INDEX_SPAN + i;
      order.sort();
      for (const packed of order) {
        chunk.push(bucket[packed % INDEX_SPAN]!.line);
        if (chunk.length >= 4096) await writeChunk();
      }
    }
  };

  await write(`${BENCH_JOURNEY_LINE}\n`);
  summary.lines++;
  const perDay = options.entries / days;
  let made = 0;
  for (let d = 0; d < days && made < options.entries; d++) {
    const dayMs = startMs + d * DAY;
    await flushBefore(Math.floor(dayMs / DAY));
    const count = d === days - 1 ? options.entries - made : Math.min(options.entries - made, Math.round(perDay * (d + 1)) - made);
    const arrivals: number[] = [];
    for (let i = 0; i < count; i++) arrivals.push(dayMs + Math.floor(r() * DAY));
    arrivals.sort((a, b) => a - b);
    for (const enteredMs of arrivals) {
      made++;
      simulateEntry(r, made, 1 + Math.floor(r() * users), enteredMs, nowMs, emit, summary);
    }
  }
  await flushBefore(Infinity);
  if (chunk.length > 0) out.write(chunk.join(''));
  out.end();
  await once(out, 'finish');
  return summary;
}

type Emit = (ms: number, body: string, late?: boolean) => boolean;

function simulateEntry(
  r: () => number,
  n: number,
  user: number,
  enteredMs: number,
  nowMs: number,
  emit: Emit,
  summary: BenchDataSummary,
): void {
  const j = `"journey_id":"${BENCH_JOURNEY_ID}"`;
  const entry = `"entry_id":"e-${n}"`;
  const externalId = `u-${user}`;
  const platform = PLATFORMS[user % PLATFORMS.length]!;
  const conversion = (ms: number, event = BENCH_CONVERSION_EVENT) => {
    if (emit(ms, `"conversion","external_id":"${externalId}","event":"${event}"`, r() < 0.02)) summary.conversions++;
  };
  emit(enteredMs, `"journey_entry",${j},${entry},"external_id":"${externalId}"`);
  summary.entries++;
  if (r() < 0.04) conversion(enteredMs - Math.floor(r() * 72 * HOUR));
  if (r() < 0.3) conversion(enteredMs + Math.floor(r() * 30 * DAY), 'app_open');

  let t = enteredMs + Math.floor(r() * 30 * SECOND);
  const stepEntry = (step: string) => {
    if (emit(t, `"step_entry",${j},${entry},"step_id":"${step}"`)) summary.stepEntries++;
  };
  const message = (step: string, status: string, ms: number, withPlatform: boolean, reason?: string) => {
    const p = withPlatform ? `,"platform":"${platform}"` : '';
    const why = reason === undefined ? '' : `,"reason":"${reason}"`;
    if (emit(ms, `"message",${j},${entry},"step_id":"${step}","status":"${status}"${p}${why}`)) summary.messages++;
  };
  /** A message step: sent or failed, then shown and clicked with the given rates; returns whether it was clicked. */
  const send = (step: string, failRate: number, showRate: number | null, clickRate: number, withPlatform: boolean) => {
    stepEntry(step);
    const sentMs = t + Math.floor(r() * 4 * SECOND);
    if (r() < failRate) {
      message(step, 'failed', sentMs, withPlatform, 'invalid token');
      return false;
    }
    message(step, 'sent', sentMs, withPlatform);
    let engaged = sentMs;
    if (showRate !== null) {
      if (r() >= showRate) return false;
      engaged += Math.floor(r() * 6 * HOUR);
      message(step, 'shown', engaged, withPlatform);
    }
    if (r() >= clickRate) return false;
    message(step, 'clicked', engaged + Math.floor(r() * 2 * HOUR), withPlatform);
    return true;
  };
  const moveOn = (ms: number) => {
    t += ms;
  };

  let exit: { ms: number; converted: boolean } | null = null;
  const leaves = (rate: number) => r() < rate;
  const clicked = send('s1', 0.08, null, 0.2, true);
  moveOn(10 * SECOND);
  if (leaves(0.03)) exit = { ms: t + Math.floor(r() * 6 * HOUR), converted: false };
  if (!exit) {
    stepEntry('s2');
    const hold = 24 * HOUR;
    if (r() < 0.15) {
      const convMs = t + Math.floor(r() * hold);
      conversion(convMs);
      exit = { ms: convMs + Math.floor(r() * 60 * SECOND), converted: true };
    } else moveOn(hold);
  }
  if (!exit) {
    stepEntry('s3');
    moveOn(2 * SECOND);
    if (clicked || r() < 0.4) send('s5', 0.01, 0.85, 0.3, true);
    else send('s4', 0.02, 0.6, 0.25, false);
    moveOn(30 * MINUTE);
    if (leaves(0.05)) exit = { ms: t + Math.floor(r() * 6 * HOUR), converted: false };
  }
  if (!exit) {
    stepEntry('s6');
    if (emit(t + SECOND, `"step_outcome",${j},${entry},"step_id":"s6","outcome":"${OUTCOMES[Math.floor(r() * OUTCOMES.length)]}"`)) {
      summary.outcomes++;
    }
    moveOn(5 * SECOND);
    send('s7', 0.05, null, 0.15, true);
    moveOn(2 * HOUR);
    if (r() < 0.1) {
      const convMs = t - Math.floor(r() * HOUR);
      conversion(convMs);
      exit = { ms: convMs + Math.floor(r() * 60 * SECOND), converted: true };
    }
  }
  if (!exit) {
    send('s8', 0.04, null, 0, false);
    exit = { ms: t + 10 * MINUTE, converted: false };
  }
  if (exit.ms > nowMs) return;
  if (emit(exit.ms, `"journey_exit",${j},${entry},"reason":"${exit.converted ? 'converted' : 'completed'}"`, r() < 0.02)) {
    summary.exits++;
  }
  const windowMs = WINDOW_HOURS * HOUR;
  if (exit.converted && r() < 0.2) conversion(exit.ms + Math.floor(r() * windowMs));
  if (!exit.converted && r() < 0.08) conversion(exit.ms + Math.floor(r() * windowMs));
  if (r() < 0.05) conversion(exit.ms + windowMs + Math.floor(r() * 5 * DAY));
}
