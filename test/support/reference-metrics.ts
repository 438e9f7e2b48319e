// An independent in-memory model of METRICS.md over accepted NDJSON events, written from the spec text, for tests to compare against.
import type { JourneyReport, PlatformCounts, StepReport } from '../../reports/report-types.js';

/** The contract objects of EVENTS.md, as they appear on an NDJSON line. */
export interface JourneyLine {
  type: 'journey';
  journey_id: string;
  name: string;
  conversion_event: string | null;
  attribution_window_hours: number;
  reentry: boolean;
  steps: Array<{ step_id: string; name: string; kind: StepReport['kind']; campaign_id?: string; next: string[] }>;
}
export interface JourneyEntryLine {
  type: 'journey_entry';
  event_id: string;
  journey_id: string;
  entry_id: string;
  external_id: string;
  at: string;
}
export interface StepEntryLine {
  type: 'step_entry';
  event_id: string;
  journey_id: string;
  entry_id: string;
  step_id: string;
  at: string;
}
export interface MessageLine {
  type: 'message';
  event_id: string;
  journey_id: string;
  entry_id: string;
  step_id: string;
  status: 'sent' | 'failed' | 'shown' | 'clicked';
  platform?: string | null;
  reason?: string;
  at: string;
}
export interface StepOutcomeLine {
  type: 'step_outcome';
  event_id: string;
  journey_id: string;
  entry_id: string;
  step_id: string;
  outcome: string;
  at: string;
}
export interface JourneyExitLine {
  type: 'journey_exit';
  event_id: string;
  journey_id: string;
  entry_id: string;
  at: string;
  reason?: string;
}
export interface ConversionLine {
  type: 'conversion';
  event_id: string;
  external_id: string;
  event: string;
  at: string;
}
export type EventLine = JourneyEntryLine | StepEntryLine | MessageLine | StepOutcomeLine | JourneyExitLine | ConversionLine;
export type ContractLine = JourneyLine | EventLine;

export interface ReferencePeriod {
  from: Date | null;
  to: Date | null;
}

const HOUR_MS = 3_600_000;
const KNOWN_PLATFORMS = ['android', 'ios', 'web'] as const;
type CountedPlatform = (typeof KNOWN_PLATFORMS)[number] | 'other';

interface Entry {
  entryId: string;
  user: string;
  enteredMs: number;
  exitedMs: number | null;
}

const ms = (iso: string): number => Date.parse(iso);

/** "android", "ios", "web" in any case count as themselves; any other string counts as "other". */
function countedPlatform(platform: string): CountedPlatform {
  const lower = platform.toLowerCase();
  return (KNOWN_PLATFORMS as readonly string[]).includes(lower) ? (lower as CountedPlatform) : 'other';
}

/**
 * The report of METRICS.md for `journeyId` over `period`, from events that were all accepted by an import.
 * The last `journey` line with that id is the definition in force.
 */
export function referenceReport(lines: readonly ContractLine[], journeyId: string, period: ReferencePeriod): JourneyReport {
  const journey = lines.filter((l): l is JourneyLine => l.type === 'journey' && l.journey_id === journeyId).at(-1);
  if (!journey) throw new Error(`no journey line for "${journeyId}"`);
  const ofJourney = <T extends EventLine['type']>(type: T) =>
    lines.filter(
      (l): l is Extract<EventLine, { type: T }> => l.type === type && 'journey_id' in l && l.journey_id === journeyId,
    );

  const entries = new Map<string, Entry>();
  for (const e of ofJourney('journey_entry')) {
    entries.set(e.entry_id, { entryId: e.entry_id, user: e.external_id, enteredMs: ms(e.at), exitedMs: null });
  }
  for (const x of ofJourney('journey_exit')) entries.get(x.entry_id)!.exitedMs = ms(x.at);

  const from = period.from?.getTime() ?? null;
  const to = period.to?.getTime() ?? null;
  // Cohort: entries whose entered_at is in [from, to).
  const inCohort = (entryId: string): boolean => {
    const entered = entries.get(entryId)!.enteredMs;
    return (from === null || entered >= from) && (to === null || entered < to);
  };
  const cohort = [...entries.values()].filter((e) => inCohort(e.entryId));

  // Attribution: each conversion goes to the valid entry with the latest entered_at (tie: greatest entry_id).
  const conversionEvent = journey.conversion_event;
  const windowMs = journey.attribution_window_hours * HOUR_MS;
  const attributedTo = new Map<string, string>();
  const attributedConversions: ConversionLine[] = [];
  if (conversionEvent !== null) {
    for (const c of lines) {
      if (c.type !== 'conversion' || c.event !== conversionEvent) continue;
      const at = ms(c.at);
      let best: Entry | undefined;
      for (const e of entries.values()) {
        const valid = e.user === c.external_id && at >= e.enteredMs && (e.exitedMs === null || at <= e.exitedMs + windowMs);
        if (!valid) continue;
        if (!best || e.enteredMs > best.enteredMs || (e.enteredMs === best.enteredMs && e.entryId > best.entryId)) best = e;
      }
      if (best) {
        attributedTo.set(c.event_id, best.entryId);
        attributedConversions.push(c);
      }
    }
  }
  // A user's first valid conversion: earliest attributed event by at (tie: smallest event_id).
  const firstConversion = new Map<string, ConversionLine>();
  for (const c of attributedConversions) {
    const current = firstConversion.get(c.external_id);
    if (!current || ms(c.at) < ms(current.at) || (ms(c.at) === ms(current.at) && c.event_id < current.event_id)) {
      firstConversion.set(c.external_id, c);
    }
  }
  const conversionsOfEntry = new Map<string, number>();
  for (const entryId of attributedTo.values()) conversionsOfEntry.set(entryId, (conversionsOfEntry.get(entryId) ?? 0) + 1);

  // Last step: the entry's step entry with the latest at (tie: greatest event_id).
  const stepEntries = ofJourney('step_entry');
  const lastStep = new Map<string, StepEntryLine>();
  for (const s of stepEntries) {
    const current = lastStep.get(s.entry_id);
    if (!current || ms(s.at) > ms(current.at) || (ms(s.at) === ms(current.at) && s.event_id > current.event_id)) {
      lastStep.set(s.entry_id, s);
    }
  }

  // total_exits: exited entries in C without an attributed conversion (every exited entry when there is no conversion event).
  const exitedWithoutConversion = cohort.filter((e) => e.exitedMs !== null && !conversionsOfEntry.has(e.entryId));
  const messages = ofJourney('message').filter((m) => inCohort(m.entry_id));
  const convertedUsers = [...firstConversion.values()].filter((c) => inCohort(attributedTo.get(c.event_id)!)).length;
  const entryUsers = new Set(cohort.map((e) => e.user)).size;

  const steps = journey.steps.map((step): StepReport => {
    const reached = stepEntries.filter((s) => s.step_id === step.step_id && inCohort(s.entry_id));
    const atStep = messages.filter((m) => m.step_id === step.step_id);
    const platforms: Partial<Record<CountedPlatform, PlatformCounts>> = {};
    for (const m of atStep) {
      if (m.platform === undefined || m.platform === null) continue;
      const counts = (platforms[countedPlatform(m.platform)] ??= { sent: 0, failed: 0, clicked: 0 });
      if (m.status !== 'shown') counts[m.status]++;
    }
    const outcomes: Record<string, number> = {};
    for (const o of ofJourney('step_outcome')) {
      if (o.step_id === step.step_id && inCohort(o.entry_id)) outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
    }
    return {
      step_id: step.step_id,
      name: step.name,
      kind: step.kind,
      entry_count: reached.length,
      entry_users: new Set(reached.map((s) => entries.get(s.entry_id)!.user)).size,
      sent: atStep.filter((m) => m.status === 'sent').length,
      failed: atStep.filter((m) => m.status === 'failed').length,
      shown: atStep.filter((m) => m.status === 'shown').length,
      clicked: atStep.filter((m) => m.status === 'clicked').length,
      platforms,
      outcomes,
      exits: exitedWithoutConversion.filter((e) => lastStep.get(e.entryId)?.step_id === step.step_id).length,
    };
  });

  const hasConversion = conversionEvent !== null;
  return {
    journey: { journey_id: journey.journey_id, name: journey.name },
    period: { from: period.from?.toISOString() ?? null, to: period.to?.toISOString() ?? null },
    overview: {
      messages_sent: messages.filter((m) => m.status === 'sent').length,
      total_entries: cohort.length,
      entry_users: entryUsers,
      converted_users: hasConversion ? convertedUsers : null,
      conversion_events: hasConversion ? [...attributedTo.values()].filter(inCohort).length : null,
      conversion_rate: hasConversion && entryUsers > 0 ? (convertedUsers / entryUsers) * 100 : null,
      total_exits: exitedWithoutConversion.length,
      exits_before_first_step: exitedWithoutConversion.filter((e) => !lastStep.has(e.entryId)).length,
    },
    steps,
  };
}
