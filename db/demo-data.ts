// Generates a realistic, deterministic demo data set in the import contract (EVENTS.md) and loads it.
import type { Db } from './client.js';
import { importEvents, type ImportProgress, type ImportSummary } from './import/import-events.js';
import type { StepKind } from './import/parse-event.js';
import { mulberry32, type Rng } from './seeded-random.js';

export interface DemoOptions {
  /** The end of the demo's six weeks of activity: nothing is dated later. */
  now: Date;
  seed?: number;
  /** Multiplies the number of users and entries (1 ≈ 3,000 entries). */
  scale?: number;
}

export interface LoadDemoOptions extends DemoOptions {
  onProgress?: (progress: ImportProgress) => void;
}

export const DEFAULT_DEMO_SEED = 2026;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DAYS_OF_ACTIVITY = 42;


/** A stateless hash, so per-user traits (their device) need no table and do not shift the main stream. */
function hash32(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

const between = (r: Rng, min: number, max: number) => min + r() * (max - min);
const chance = (r: Rng, p: number) => r() < p;

function pick<T>(r: Rng, items: readonly T[]): T {
  const item = items[Math.floor(r() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function weighted<T>(u: number, options: ReadonlyArray<readonly [T, number]>): T {
  const total = options.reduce((sum, [, w]) => sum + w, 0);
  let x = u * total;
  for (const [value, w] of options) {
    if (x < w) return value;
    x -= w;
  }
  const last = options[options.length - 1];
  if (!last) throw new Error('weighted pick from an empty list');
  return last[0];
}

interface MessageProfile {
  failRate: number;
  failReasons: ReadonlyArray<readonly [string, number]>;
  /** Share of sent messages shown (email, in-app); absent: the channel reports no "shown". */
  showRate?: number;
  /** Share of sent messages clicked — of shown ones where the channel reports "shown". */
  clickRate: number;
  /** Push and in-app messages carry the user's device platform; email and SMS none. */
  device: boolean;
}

interface EntryState {
  clicked: boolean;
  /** The user's fixed draw in [0, 1) for A/B splits: a re-entering user stays in their variant. */
  variant: number;
}

interface StepPlan {
  step_id: string;
  name: string;
  kind: StepKind;
  campaign_id?: string;
  next: string[];
  /** Wait steps: how long an entry is held, in hours. */
  holdHours?: readonly [number, number];
  message?: MessageProfile;
  outcomes?: ReadonlyArray<readonly [string, number]>;
  /** Condition and split steps: which of `next` an entry takes (default: the first). */
  route?: (r: Rng, entry: EntryState) => number;
  /** Entries that leave the journey at this step on purpose (exit criteria), beyond the background leak. */
  drop?: { rate: number; reason: string; afterHours: readonly [number, number] };
}

interface ConversionProfile {
  /** Chance, at each wait step, that the user converts while held there (the journey then exits them). */
  perWait: number;
  /** After a non-converting exit: a conversion inside the attribution window. */
  afterExit: number;
  /** After any exit: a conversion later than the window (counted by no one). */
  late: number;
  /** A conversion shortly before the entry (not counted for it). */
  before: number;
  beforeHours: readonly [number, number];
  /** After a conversion: another one inside the window (more events than converted users). */
  repeat: number;
  exitReason: string;
}

interface JourneyPlan {
  journey_id: string;
  name: string;
  conversion_event: string | null;
  attribution_window_hours: number;
  reentry: boolean;
  steps: StepPlan[];
  /** Entries on an average weekday at scale 1 (weekends are quieter). */
  entriesPerWeekday: number;
  /** The journey went live this many days before `now`. */
  liveForDays: number;
  /** Entries come from a segment sync at this UTC hour instead of all day. */
  batchHour?: number;
  /** Share of entries made by a user who was in the journey before (re-entry journeys only). */
  reentryShare: number;
  /** Share of first entries by users already known from other journeys (the rest are new users). */
  knownUserShare: number;
  conversion: ConversionProfile | null;
}

const LEAK = 0.02;
const LEAK_REASONS: ReadonlyArray<readonly [string, number]> = [
  ['left segment', 3],
  ['unsubscribed', 2],
  ['manually removed', 0.3],
];

// UTC activity by hour: quiet nights, a morning rise and an evening peak.
const HOUR_WEIGHTS = [
  1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.7, 2.6, 2.5, 2.5, 2.4, 2.4, 2.5, 2.7, 3, 3.2, 3, 2.5, 1.8, 1.2,
].map((w, h) => [h, w] as const);

// What a user's SDK reports, including the messy spellings real apps send.
const DEVICE_PLATFORMS: ReadonlyArray<readonly [string | null, number]> = [
  ['android', 51],
  ['ios', 34],
  ['iOS', 3],
  ['Android', 1],
  ['web', 6],
  ['huawei', 1],
  [null, 4],
];

const PUSH_HEALTHY_FAILURES: ReadonlyArray<readonly [string, number]> = [
  ['invalid token', 2],
  ['rate limited', 1],
];
const EMAIL_FAILURES: ReadonlyArray<readonly [string, number]> = [
  ['hard bounce', 3],
  ['mailbox full', 1],
  ['invalid address', 1],
];
const SMS_FAILURES: ReadonlyArray<readonly [string, number]> = [
  ['carrier rejected', 2],
  ['invalid phone number', 2],
  ['opted out', 1],
];

const JOURNEYS: readonly JourneyPlan[] = [
  {
    journey_id: 'welcome',
    name: 'Welcome series',
    conversion_event: 'first_purchase',
    attribution_window_hours: 72,
    reentry: false,
    entriesPerWeekday: 25,
    liveForDays: DAYS_OF_ACTIVITY,
    reentryShare: 0,
    knownUserShare: 0,
    conversion: { perWait: 0.09, afterExit: 0.08, late: 0.07, before: 0, beforeHours: [0, 0], repeat: 0, exitReason: 'converted' },
    steps: [
      {
        step_id: 'w1',
        name: 'Welcome push',
        kind: 'push',
        campaign_id: 'cmp-w01',
        next: ['w2'],
        // The visible problem: a stale device-token list makes a quarter of these pushes fail.
        message: { failRate: 0.25, failReasons: [['invalid token', 3], ['unregistered device', 2]], clickRate: 0.14, device: true },
      },
      { step_id: 'w2', name: 'Wait 1 day', kind: 'wait', next: ['w3'], holdHours: [23.5, 24.5] },
      {
        step_id: 'w3',
        name: 'Opened the app?',
        kind: 'condition',
        next: ['w4', 'w5'],
        route: (r, entry) => (entry.clicked || chance(r, 0.4) ? 0 : 1),
      },
      {
        step_id: 'w4',
        name: 'Getting-started tour',
        kind: 'in_app',
        campaign_id: 'cmp-w02',
        next: [],
        message: { failRate: 0.01, failReasons: [['message expired', 1]], showRate: 0.85, clickRate: 0.3, device: true },
      },
      {
        step_id: 'w5',
        name: 'Welcome email',
        kind: 'email',
        campaign_id: 'cmp-w03',
        next: ['w6'],
        message: { failRate: 0.02, failReasons: EMAIL_FAILURES, showRate: 0.52, clickRate: 0.24, device: false },
      },
      { step_id: 'w6', name: 'Wait 2 days', kind: 'wait', next: ['w7'], holdHours: [47.5, 48.5] },
      {
        step_id: 'w7',
        name: 'Finish sign-up SMS',
        kind: 'sms',
        campaign_id: 'cmp-w04',
        next: [],
        message: { failRate: 0.06, failReasons: SMS_FAILURES, clickRate: 0, device: false },
      },
    ],
  },
  {
    journey_id: 'cart-abandon',
    name: 'Abandoned cart',
    conversion_event: 'purchase',
    attribution_window_hours: 24,
    reentry: true,
    entriesPerWeekday: 27,
    liveForDays: DAYS_OF_ACTIVITY,
    reentryShare: 0.22,
    knownUserShare: 0.6,
    conversion: { perWait: 0.1, afterExit: 0.1, late: 0.08, before: 0.25, beforeHours: [2, 96], repeat: 0.15, exitReason: 'converted' },
    steps: [
      { step_id: 'c1', name: 'Wait 1 hour', kind: 'wait', next: ['c2'], holdHours: [1, 1.1] },
      {
        step_id: 'c2',
        name: 'Cart reminder push',
        kind: 'push',
        campaign_id: 'cmp-c01',
        next: ['c3'],
        message: { failRate: 0.035, failReasons: PUSH_HEALTHY_FAILURES, clickRate: 0.09, device: true },
      },
      { step_id: 'c3', name: 'Wait 1 day', kind: 'wait', next: ['c4'], holdHours: [23.9, 24.1] },
      {
        step_id: 'c4',
        name: 'Items still in cart?',
        kind: 'condition',
        next: ['c5'],
        drop: { rate: 0.18, reason: 'cart emptied', afterHours: [0, 0.01] },
      },
      {
        step_id: 'c5',
        name: 'Create 10% coupon (webhook)',
        kind: 'custom',
        next: ['c6'],
        outcomes: [
          ['coupon_created', 93],
          ['webhook_timeout', 5],
          ['webhook_error_500', 2],
        ],
      },
      {
        step_id: 'c6',
        name: 'Your cart + 10% off email',
        kind: 'email',
        campaign_id: 'cmp-c02',
        next: [],
        message: { failRate: 0.015, failReasons: EMAIL_FAILURES, showRate: 0.58, clickRate: 0.27, device: false },
      },
    ],
  },
  {
    journey_id: 'winback',
    name: 'Win-back lapsed users',
    conversion_event: 'session_start',
    attribution_window_hours: 168,
    reentry: true,
    entriesPerWeekday: 12,
    liveForDays: DAYS_OF_ACTIVITY,
    batchHour: 9,
    reentryShare: 0.1,
    knownUserShare: 0.9,
    conversion: {
      perWait: 0.16,
      afterExit: 0.12,
      late: 0.1,
      before: 0.3,
      beforeHours: [20 * 24, 34 * 24],
      repeat: 0.4,
      exitReason: 'converted',
    },
    steps: [
      {
        step_id: 'b1',
        name: 'A/B: discount vs. news',
        kind: 'split',
        next: ['b2', 'b3'],
        route: (_r, entry) => (entry.variant < 0.5 ? 0 : 1),
      },
      {
        step_id: 'b2',
        name: '20% off comeback email',
        kind: 'email',
        campaign_id: 'cmp-b01',
        next: ['b4'],
        message: { failRate: 0.03, failReasons: EMAIL_FAILURES, showRate: 0.41, clickRate: 0.22, device: false },
      },
      {
        step_id: 'b3',
        name: "What's new digest email",
        kind: 'email',
        campaign_id: 'cmp-b02',
        next: [],
        // The visible problem: hardly anyone clicks this variant.
        message: { failRate: 0.03, failReasons: EMAIL_FAILURES, showRate: 0.35, clickRate: 0.035, device: false },
      },
      { step_id: 'b4', name: 'Wait 3 days', kind: 'wait', next: ['b5'], holdHours: [71.5, 72.5] },
      {
        step_id: 'b5',
        name: 'Last-chance SMS',
        kind: 'sms',
        campaign_id: 'cmp-b03',
        next: [],
        message: { failRate: 0.05, failReasons: SMS_FAILURES, clickRate: 0, device: false },
      },
    ],
  },
  {
    journey_id: 'feature-adoption',
    name: 'Saved searches adoption',
    conversion_event: null,
    attribution_window_hours: 0,
    reentry: false,
    entriesPerWeekday: 13,
    liveForDays: DAYS_OF_ACTIVITY,
    reentryShare: 0,
    knownUserShare: 0.85,
    conversion: null,
    steps: [
      {
        step_id: 'f1',
        name: 'Saved-search tooltip',
        kind: 'in_app',
        campaign_id: 'cmp-f01',
        next: ['f2'],
        message: { failRate: 0.01, failReasons: [['message expired', 1]], showRate: 0.9, clickRate: 0.12, device: true },
        // The visible problem: the tooltip's "dismiss" exits most users before anything else happens.
        drop: { rate: 0.7, reason: 'dismissed tooltip', afterHours: [0.01, 2] },
      },
      { step_id: 'f2', name: 'Wait 2 days', kind: 'wait', next: ['f3'], holdHours: [47.5, 48.5] },
      {
        step_id: 'f3',
        name: 'Engagement score (webhook)',
        kind: 'custom',
        next: ['f4'],
        outcomes: [
          ['score_low', 60],
          ['score_high', 35],
          ['webhook_error', 5],
        ],
      },
      {
        step_id: 'f4',
        name: 'Try saved searches push',
        kind: 'push',
        campaign_id: 'cmp-f02',
        next: [],
        message: { failRate: 0.03, failReasons: PUSH_HEALTHY_FAILURES, clickRate: 0.07, device: true },
      },
    ],
  },
  {
    journey_id: 'nps-survey',
    name: 'NPS survey',
    conversion_event: 'nps_submitted',
    attribution_window_hours: 0,
    reentry: true,
    entriesPerWeekday: 14,
    liveForDays: 20,
    reentryShare: 0.05,
    knownUserShare: 0.95,
    conversion: {
      perWait: 0.3,
      afterExit: 0,
      late: 0.08,
      before: 0.02,
      beforeHours: [24, 72],
      repeat: 0,
      exitReason: 'survey submitted',
    },
    steps: [
      {
        step_id: 'n1',
        name: 'NPS prompt',
        kind: 'in_app',
        campaign_id: 'cmp-n01',
        next: ['n2'],
        message: { failRate: 0.01, failReasons: [['message expired', 1]], showRate: 0.8, clickRate: 0.2, device: true },
      },
      { step_id: 'n2', name: 'Wait 2 days', kind: 'wait', next: ['n3'], holdHours: [47.5, 48.5] },
      {
        step_id: 'n3',
        name: 'NPS reminder email',
        kind: 'email',
        campaign_id: 'cmp-n02',
        next: [],
        message: { failRate: 0.02, failReasons: EMAIL_FAILURES, showRate: 0.47, clickRate: 0.15, device: false },
      },
    ],
  },
];

// Behaviour streams that belong to no journey: the "other" event names a report must ignore.
const OTHER_EVENTS: ReadonlyArray<readonly [string, number]> = [
  ['app_open', 6],
  ['add_to_cart', 3],
  ['wishlist_add', 1],
  ['newsletter_signup', 0.5],
];
const OTHER_EVENTS_PER_DAY = 16;

type EventBody =
  | { type: 'journey_entry'; journey_id: string; entry_id: string; external_id: string }
  | { type: 'step_entry'; journey_id: string; entry_id: string; step_id: string }
  | {
      type: 'message';
      journey_id: string;
      entry_id: string;
      step_id: string;
      status: 'sent' | 'failed' | 'shown' | 'clicked';
      platform?: string;
      reason?: string;
    }
  | { type: 'step_outcome'; journey_id: string; entry_id: string; step_id: string; outcome: string }
  | { type: 'journey_exit'; journey_id: string; entry_id: string; reason: string }
  | { type: 'conversion'; external_id: string; event: string };

interface Timed {
  ms: number;
  body: EventBody;
}

interface JourneyUsers {
  /** Users with an entry, in order of their first entry (for picking re-entering users). */
  members: number[];
  /** When each member may enter again: their last exit, or Infinity while still in the journey. */
  freeAfter: Map<number, number>;
}

/** Everything the generator remembers between entries: counters and per-user state, nothing per event. */
class DemoState {
  private nextEvent = 1;
  private nextEntry = 1;
  nextUser = 1;
  readonly users = new Map<string, JourneyUsers>();

  constructor(readonly tag: string) {}

  eventId(): string {
    return `demo-${this.tag}-${this.nextEvent++}`;
  }

  entryId(): string {
    return `en-${this.tag}-${this.nextEntry++}`;
  }

  journeyUsers(journeyId: string): JourneyUsers {
    let users = this.users.get(journeyId);
    if (!users) {
      users = { members: [], freeAfter: new Map() };
      this.users.set(journeyId, users);
    }
    return users;
  }
}

const externalId = (user: number) => `cust-${String(user).padStart(6, '0')}`;

function devicePlatform(seed: number, user: number): string | null {
  return weighted(hash32(seed, user, 0x5eed) / 4294967296, DEVICE_PLATFORMS);
}

function validate(options: DemoOptions): { nowMs: number; seed: number; scale: number } {
  const nowMs = options.now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('demo data: "now" is not a valid date');
  const seed = options.seed ?? DEFAULT_DEMO_SEED;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`demo data: seed must be an integer, got ${seed}`);
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1000) {
    throw new RangeError(`demo data: scale must be more than 0 and at most 1000, got ${scale}`);
  }
  return { nowMs, seed, scale };
}

function journeyLine(plan: JourneyPlan): string {
  return JSON.stringify({
    type: 'journey',
    journey_id: plan.journey_id,
    name: plan.name,
    conversion_event: plan.conversion_event,
    attribution_window_hours: plan.attribution_window_hours,
    reentry: plan.reentry,
    steps: plan.steps.map((s) => ({
      step_id: s.step_id,
      name: s.name,
      kind: s.kind,
      ...(s.campaign_id === undefined ? {} : { campaign_id: s.campaign_id }),
      next: s.next,
    })),
  });
}

/**
 * Yields the demo data set as NDJSON lines: the journey definitions first, then, day by day, each entry's
 * events (and the users' conversion events) as it is simulated. Deterministic for a given seed and now.
 */
export function* generateDemoEvents(options: DemoOptions): Generator<string> {
  const { nowMs, seed, scale } = validate(options);
  const r = mulberry32(seed);
  // The tag keeps ids of data sets made for another seed or clock apart, so loading one never half-matches another.
  const state = new DemoState(hash32(seed, Math.floor(nowMs / 2 ** 32), nowMs >>> 0).toString(36));
  const startMs = nowMs - DAYS_OF_ACTIVITY * DAY;
  const render = (t: Timed) => {
    const { type, ...fields } = t.body;
    return JSON.stringify({ type, event_id: state.eventId(), ...fields, at: new Date(t.ms).toISOString() });
  };

  for (const plan of JOURNEYS) yield journeyLine(plan);

  for (let dayMs = Math.floor(startMs / DAY) * DAY; dayMs <= nowMs; dayMs += DAY) {
    const weekday = (Math.floor(dayMs / DAY) + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    const weekend = weekday === 0 || weekday === 6;
    // A slow growth over the six weeks, as a live app would show.
    const growth = 0.85 + (0.3 * (dayMs - startMs)) / (DAYS_OF_ACTIVITY * DAY);
    const arrivals: Array<{ ms: number; plan: JourneyPlan }> = [];
    for (const plan of JOURNEYS) {
      if (dayMs < nowMs - plan.liveForDays * DAY - DAY) continue;
      const expected = plan.entriesPerWeekday * (weekend ? 0.45 : 1) * growth * scale * between(r, 0.8, 1.2);
      const count = Math.floor(expected) + (chance(r, expected % 1) ? 1 : 0);
      for (let i = 0; i < count; i++) {
        const ms =
          plan.batchHour === undefined
            ? dayMs + weighted(r(), HOUR_WEIGHTS) * HOUR + Math.floor(r() * HOUR)
            : dayMs + plan.batchHour * HOUR + Math.floor(r() * 20 * MINUTE);
        if (ms >= startMs && ms <= nowMs && ms >= nowMs - plan.liveForDays * DAY) arrivals.push({ ms, plan });
      }
    }
    arrivals.sort((a, b) => a.ms - b.ms);

    for (const { ms, plan } of arrivals) {
      const user = chooseUser(r, state, plan, ms);
      const events = simulateEntry(r, seed, state, plan, user, ms, nowMs, startMs);
      for (const t of events) yield render(t);
    }

    const others = Math.round(OTHER_EVENTS_PER_DAY * (weekend ? 0.6 : 1) * scale * between(r, 0.8, 1.2));
    for (let i = 0; i < others && state.nextUser > 1; i++) {
      const ms = dayMs + Math.floor(r() * DAY);
      if (ms < startMs || ms > nowMs) continue;
      const user = 1 + Math.floor(r() * (state.nextUser - 1));
      yield render({ ms, body: { type: 'conversion', external_id: externalId(user), event: weighted(r(), OTHER_EVENTS) } });
    }
  }
}

function chooseUser(r: Rng, state: DemoState, plan: JourneyPlan, ms: number): number {
  const users = state.journeyUsers(plan.journey_id);
  if (plan.reentry && users.members.length > 0 && chance(r, plan.reentryShare)) {
    // Re-entry after the previous entry ended (a few tries: most recent members may still be inside).
    for (let attempt = 0; attempt < 6; attempt++) {
      const candidate = pick(r, users.members);
      if ((users.freeAfter.get(candidate) ?? Infinity) < ms - HOUR) return candidate;
    }
  }
  if (state.nextUser > 1 && chance(r, plan.knownUserShare)) {
    for (let attempt = 0; attempt < 6; attempt++) {
      const candidate = 1 + Math.floor(r() * (state.nextUser - 1));
      if (!users.freeAfter.has(candidate)) return candidate;
    }
  }
  return state.nextUser++;
}

/** Walks one entry through its journey; returns its events (and the user's related conversions) up to now, in time order. */
function simulateEntry(
  r: Rng,
  seed: number,
  state: DemoState,
  plan: JourneyPlan,
  user: number,
  enteredMs: number,
  nowMs: number,
  startMs: number,
): Timed[] {
  const journey_id = plan.journey_id;
  const entry_id = state.entryId();
  const external_id = externalId(user);
  const out: Timed[] = [{ ms: enteredMs, body: { type: 'journey_entry', journey_id, entry_id, external_id } }];
  const conv = plan.conversion_event === null ? null : plan.conversion;
  const convert = (ms: number) => {
    if (plan.conversion_event !== null) out.push({ ms, body: { type: 'conversion', external_id, event: plan.conversion_event } });
  };
  const windowMs = plan.attribution_window_hours * HOUR;
  const entry: EntryState = { clicked: false, variant: hash32(seed, user, 0xab) / 4294967296 };
  let exit: { ms: number; reason: string } | null = null;

  if (conv && chance(r, conv.before)) {
    const ms = enteredMs - Math.floor(between(r, conv.beforeHours[0], conv.beforeHours[1]) * HOUR);
    if (ms >= startMs) convert(ms);
  }

  let step = plan.steps[0];
  let t = enteredMs + Math.floor(between(r, 1, 30) * SECOND);
  while (step && !exit) {
    out.push({ ms: t, body: { type: 'step_entry', journey_id, entry_id, step_id: step.step_id } });
    let leaveMs = t + Math.floor(between(r, 1, 20) * SECOND);
    if (step.message) {
      leaveMs = messageEvents(r, out, step.message, devicePlatform(seed, user), entry, t, {
        journey_id,
        entry_id,
        step_id: step.step_id,
      });
    }
    if (step.outcomes) {
      out.push({
        ms: leaveMs,
        body: { type: 'step_outcome', journey_id, entry_id, step_id: step.step_id, outcome: weighted(r(), step.outcomes) },
      });
      leaveMs += Math.floor(between(r, 0.2, 2) * SECOND);
    }
    if (step.holdHours) {
      const holdMs = Math.floor(between(r, step.holdHours[0], step.holdHours[1]) * HOUR);
      if (conv && chance(r, conv.perWait)) {
        // Converting while held is the journey's goal: the journey lets the user go right away.
        const convMs = t + Math.floor(between(r, 0.02, 0.98) * holdMs);
        convert(convMs);
        exit = { ms: convMs + Math.floor(between(r, 2, 90) * SECOND), reason: conv.exitReason };
        break;
      }
      leaveMs = t + holdMs;
    }
    if (step.drop && chance(r, step.drop.rate)) {
      exit = { ms: leaveMs + Math.floor(between(r, step.drop.afterHours[0], step.drop.afterHours[1]) * HOUR), reason: step.drop.reason };
      break;
    }
    if (step.next.length === 0) {
      exit = { ms: leaveMs + Math.floor(between(r, 1, 30) * MINUTE), reason: 'completed' };
      break;
    }
    if (chance(r, LEAK)) {
      exit = { ms: leaveMs + Math.floor(between(r, 0.05, 6) * HOUR), reason: weighted(r(), LEAK_REASONS) };
      break;
    }
    const nextId = step.next[step.route ? step.route(r, entry) : 0];
    step = plan.steps.find((s) => s.step_id === nextId);
    t = leaveMs + Math.floor(between(r, 0.2, 5) * SECOND);
  }

  if (exit) {
    out.push({ ms: exit.ms, body: { type: 'journey_exit', journey_id, entry_id, reason: exit.reason } });
    if (conv) {
      const converted = exit.reason === conv.exitReason;
      if (converted && windowMs > 0 && chance(r, conv.repeat)) convert(exit.ms + Math.floor(between(r, 0.05, 0.95) * windowMs));
      if (!converted && windowMs > 0 && chance(r, conv.afterExit)) {
        convert(exit.ms + Math.floor(between(r, 0.02, 0.95) * windowMs));
      }
      if (chance(r, conv.late)) convert(exit.ms + windowMs + Math.floor(between(r, 6, 6 * 24) * HOUR));
    }
  }

  const users = state.journeyUsers(journey_id);
  if (!users.freeAfter.has(user)) users.members.push(user);
  users.freeAfter.set(user, exit && exit.ms <= nowMs ? exit.ms : Infinity);

  // Stable sort: events at the same millisecond keep the order they happened in.
  return out.filter((e) => e.ms <= nowMs).sort((a, b) => a.ms - b.ms);
}

/** Emits a message step's outcome events; returns when the entry moves on (right after the send attempt). */
function messageEvents(
  r: Rng,
  out: Timed[],
  profile: MessageProfile,
  device: string | null,
  entry: EntryState,
  stepMs: number,
  ids: { journey_id: string; entry_id: string; step_id: string },
): number {
  const platform = profile.device && device !== null ? { platform: device } : {};
  const sentMs = stepMs + Math.floor(between(r, 0.3, 4) * SECOND);
  if (chance(r, profile.failRate)) {
    out.push({ ms: sentMs, body: { type: 'message', ...ids, status: 'failed', ...platform, reason: weighted(r(), profile.failReasons) } });
    return sentMs;
  }
  out.push({ ms: sentMs, body: { type: 'message', ...ids, status: 'sent', ...platform } });
  let engagedFrom = sentMs;
  if (profile.showRate !== undefined) {
    if (!chance(r, profile.showRate)) return sentMs;
    engagedFrom = sentMs + Math.floor(between(r, 1, 18 * 60) * MINUTE);
    out.push({ ms: engagedFrom, body: { type: 'message', ...ids, status: 'shown', ...platform } });
  }
  if (chance(r, profile.clickRate)) {
    entry.clicked = true;
    out.push({ ms: engagedFrom + Math.floor(between(r, 5, 3 * 3600) * SECOND), body: { type: 'message', ...ids, status: 'clicked', ...platform } });
  }
  return sentMs;
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** Imports the demo data set (source "demo"); importing it again changes nothing (every event is a duplicate). */
export async function loadDemoData(db: Db, options: LoadDemoOptions): Promise<ImportSummary> {
  const { onProgress, ...demo } = options;
  return importEvents(db, asAsync(generateDemoEvents(demo)), { source: 'demo', onProgress });
}
