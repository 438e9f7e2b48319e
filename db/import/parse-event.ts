// Parses one NDJSON line of the import contract (EVENTS.md) into a typed event, or a reason a person understands.
import { z } from 'zod';

export const STEP_KINDS = ['push', 'email', 'sms', 'in_app', 'custom', 'wait', 'condition', 'split'] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const MESSAGE_STATUSES = ['sent', 'failed', 'shown', 'clicked'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export const PLATFORMS = ['android', 'ios', 'web', 'other'] as const;
export type Platform = (typeof PLATFORMS)[number];

const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})?$/;

/** The instants with a four-digit year in UTC: what Postgres and ISO-8601 text hold. */
const FIRST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** Checks an ISO-8601 timestamp and returns it as epoch milliseconds, or the reason it is unusable. */
export function parseTimestamp(value: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const ms = canonicalMs(value);
  return ms === null ? parseTimestampByPattern(value) : { ok: true, ms };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The shapes nearly every event has, YYYY-MM-DDTHH:MM:SSZ and YYYY-MM-DDTHH:MM:SS.sssZ with a year from 1000, read
 * digit by digit (a third of a line's parse went to the pattern and Date.parse). Anything else, and anything
 * impossible in these shapes, is null: parseTimestampByPattern decides it, and says why.
 */
export function canonicalMs(v: string): number | null {
  const n = v.length;
  if ((n !== 20 && n !== 24) || v.charCodeAt(n - 1) !== 90 /* Z */) return null;
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return null;
  if (n === 24 && v.charCodeAt(19) !== 46 /* . */) return null;
  let bad = false;
  const digits = (from: number, count: number) => {
    let value = 0;
    for (let i = from; i < from + count; i++) {
      const c = v.charCodeAt(i) - 48;
      if (c < 0 || c > 9) bad = true;
      value = value * 10 + c;
    }
    return value;
  };
  const year = digits(0, 4);
  const month = digits(5, 2);
  const day = digits(8, 2);
  const hour = digits(11, 2);
  const minute = digits(14, 2);
  const second = digits(17, 2);
  const milli = n === 24 ? digits(20, 3) : 0;
  if (bad || year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

/** parseTimestamp for every shape ISO_WITH_ZONE takes (exported so tests can hold canonicalMs to it). */
export function parseTimestampByPattern(value: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const m = ISO_WITH_ZONE.exec(value);
  if (!m) return { ok: false, reason: `"${clip(value)}" is not an ISO-8601 timestamp (expected like 2026-11-01T09:00:00Z)` };
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (zone === undefined) {
    return { ok: false, reason: `"${clip(value)}" has no time zone: add Z or an offset like +03:00` };
  }
  if (frac !== undefined && frac.length > 3) {
    return { ok: false, reason: `"${clip(value)}" is more precise than milliseconds (at most 3 fraction digits)` };
  }
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s ?? '0'].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `"${clip(value)}" is not a real date and time` };
  }
  if (zone !== 'Z' && zone !== 'z') {
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) return { ok: false, reason: `"${clip(value)}" has an impossible offset ${zone}` };
  }
  const ms = Date.parse(value.toUpperCase());
  if (Number.isNaN(ms)) return { ok: false, reason: `"${clip(value)}" is not a usable timestamp` };
  // Stored and exported as UTC, which Postgres and ISO-8601 both write with four-digit years: year 0000, or an
  // offset that carries 9999-12-31 over into year 10000, has no such form (it once failed a whole import batch).
  if (ms < FIRST_MS || ms > LAST_MS) {
    return { ok: false, reason: `"${clip(value)}" is outside the years 0001 to 9999 in UTC` };
  }
  return { ok: true, ms };
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

const text = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const eventId = text(200);
const externalId = text(200);
const journeyId = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"');
const stepId = text(100);
const entryId = text(200);
const timestamp = z.string().transform((value, ctx) => {
  const parsed = parseTimestamp(value);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.reason });
    return z.NEVER;
  }
  return new Date(parsed.ms);
});

const stepSchema = z.object({
  step_id: stepId,
  name: text(200),
  kind: z.enum(STEP_KINDS, `must be one of ${STEP_KINDS.join(', ')}`),
  campaign_id: text(200).nullish(),
  next: z.array(stepId).default([]),
});

/** Steps a journey may have: more than a journey canvas holds, well within what one statement stores. */
export const MAX_JOURNEY_STEPS = 1000;

const journeySchema = z.object({
  type: z.literal('journey'),
  journey_id: journeyId,
  name: text(200),
  conversion_event: text(200).nullable(),
  attribution_window_hours: z.number().finite().min(0, 'must be 0 or more'),
  reentry: z.boolean(),
  steps: z.array(stepSchema).max(MAX_JOURNEY_STEPS, `must list at most ${MAX_JOURNEY_STEPS.toLocaleString('en-US')} steps`),
});

const journeyEntrySchema = z.object({
  type: z.literal('journey_entry'),
  event_id: eventId,
  journey_id: journeyId,
  entry_id: entryId,
  external_id: externalId,
  at: timestamp,
});

const stepEntrySchema = z.object({
  type: z.literal('step_entry'),
  event_id: eventId,
  journey_id: journeyId,
  entry_id: entryId,
  step_id: stepId,
  at: timestamp,
});

const messageSchema = z.object({
  type: z.literal('message'),
  event_id: eventId,
  journey_id: journeyId,
  entry_id: entryId,
  step_id: stepId,
  status: z.enum(MESSAGE_STATUSES, `must be one of ${MESSAGE_STATUSES.join(', ')}`),
  // Any string: android, ios and web are told apart, everything else (empty, long, unknown) counts as other.
  platform: z.string().nullish(),
  reason: z.string().max(500, 'must be at most 500 characters').nullish(),
  at: timestamp,
});

const stepOutcomeSchema = z.object({
  type: z.literal('step_outcome'),
  event_id: eventId,
  journey_id: journeyId,
  entry_id: entryId,
  step_id: stepId,
  outcome: text(200),
  at: timestamp,
});

const journeyExitSchema = z.object({
  type: z.literal('journey_exit'),
  event_id: eventId,
  journey_id: journeyId,
  entry_id: entryId,
  at: timestamp,
  reason: z.string().max(500, 'must be at most 500 characters').nullish(),
});

const conversionSchema = z.object({
  type: z.literal('conversion'),
  event_id: eventId,
  external_id: externalId,
  event: text(200),
  at: timestamp,
});

const schemasByType = {
  journey: journeySchema,
  journey_entry: journeyEntrySchema,
  step_entry: stepEntrySchema,
  message: messageSchema,
  step_outcome: stepOutcomeSchema,
  journey_exit: journeyExitSchema,
  conversion: conversionSchema,
} as const;

export type JourneyDef = z.infer<typeof journeySchema>;
export type JourneyEntryEvent = z.infer<typeof journeyEntrySchema>;
export type StepEntryEvent = z.infer<typeof stepEntrySchema>;
export type MessageEvent = Omit<z.infer<typeof messageSchema>, 'platform'> & { platform: Platform | null };
export type StepOutcomeEvent = z.infer<typeof stepOutcomeSchema>;
export type JourneyExitEvent = z.infer<typeof journeyExitSchema>;
export type ConversionEvent = z.infer<typeof conversionSchema>;
export type ImportEvent =
  | JourneyDef
  | JourneyEntryEvent
  | StepEntryEvent
  | MessageEvent
  | StepOutcomeEvent
  | JourneyExitEvent
  | ConversionEvent;
/** Events that belong to an entry and must name one that exists. */
export type EntryEvent = StepEntryEvent | MessageEvent | StepOutcomeEvent | JourneyExitEvent;

export type ParseResult = { ok: true; event: ImportEvent } | { ok: false; reason: string };

export function normalisePlatform(platform: string | null | undefined): Platform | null {
  if (platform === null || platform === undefined) return null;
  const lower = platform.toLowerCase();
  return (PLATFORMS as readonly string[]).includes(lower) ? (lower as Platform) : 'other';
}

/** Whether the raw object has a value (even null) at a path: tells a missing field from a wrong one. */
function isPresent(raw: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = raw;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return false;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at !== undefined;
}

function describeIssues(error: z.ZodError, raw: unknown): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid event';
  const field = issue.path.length > 0 ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '';
  if (issue.code === 'invalid_type' && !isPresent(raw, issue.path)) return `missing field "${field}"`;
  if (issue.code === 'invalid_type') {
    return `field "${field}" must be ${issue.expected === 'string' ? 'a string' : issue.expected === 'number' ? 'a number' : issue.expected === 'boolean' ? 'true or false' : issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'an object' : issue.expected}`;
  }
  return field ? `field "${field}" ${issue.message.startsWith('"') ? `is invalid: ${issue.message}` : issue.message}` : issue.message;
}

/** Structural checks of a journey definition that a schema cannot express. */
function journeyGraphProblem(def: JourneyDef): string | null {
  const ids = new Set<string>();
  for (const step of def.steps) {
    if (ids.has(step.step_id)) return `step_id "${step.step_id}" appears twice in journey "${def.journey_id}"`;
    ids.add(step.step_id);
  }
  for (const step of def.steps) {
    const unknown = step.next.find((n) => !ids.has(n));
    if (unknown !== undefined) return `step "${step.step_id}" lists next step "${unknown}", which is not a step of this journey`;
  }
  return null;
}

/** Why a line is not JSON, and where when the parser says (its "position" counts from 0). */
function jsonProblem(line: string, err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const at = /at position (\d+)/.exec(message);
  if (/end of JSON input/.test(message) || (at && Number(at[1]) >= line.length)) return 'not valid JSON (the line ends before the JSON does)';
  if (at) return `not valid JSON (at character ${Number(at[1]) + 1} of ${line.length})`;
  if (!line.trimStart().startsWith('{')) return 'not valid JSON (a line is one JSON object, starting with {)';
  return 'not valid JSON';
}

export function parseEventLine(line: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: jsonProblem(line, err) };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const type = (raw as { type?: unknown }).type;
  if (type === undefined) return { ok: false, reason: 'missing field "type"' };
  if (typeof type !== 'string' || !Object.hasOwn(schemasByType, type)) {
    return { ok: false, reason: `unknown type ${JSON.stringify(type).slice(0, 60)} (expected one of ${Object.keys(schemasByType).join(', ')})` };
  }
  const fast = type === 'journey' ? null : fastEvent(raw as Record<string, unknown>, type);
  const result: ParseResult = fast ? { ok: true, event: fast } : parseWithSchemas(raw, type as keyof typeof schemasByType);
  // JSON can spell, only as a \u escape, two things that are not text a database column holds: U+0000, and half of
  // a surrogate pair. Stored, the first failed the whole batch (Postgres refuses it) and the second would have been
  // replaced by U+FFFD on its way there, merging ids that differ. Lines without a \u escape have neither.
  if (result.ok && line.includes('\\u')) {
    const problem = unstorableText(result.event, '');
    if (problem) return { ok: false, reason: problem };
  }
  return result;
}

/** In a `u` pattern a surrogate pair is one character, so \p{Cs} matches only a half standing alone. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The first string value of an event (by its field path) that no database text can hold, and why; or null. */
function unstorableText(value: unknown, field: string): string | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return `field "${field}" contains the character U+0000 (NUL), which cannot be stored as text: remove it`;
    if (LONE_SURROGATE.test(value)) {
      return `field "${field}" contains half of a surrogate pair (a \\uD800–\\uDFFF escape without its other half), which is not text: write the character itself or both halves`;
    }
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unstorableText(value[i], `${field}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    for (const [key, v] of Object.entries(value)) {
      const problem = unstorableText(v, field ? `${field}.${key}` : key);
      if (problem) return problem;
    }
  }
  return null;
}

/** The schemas' verdict on a parsed JSON object of a known type (exported so tests can hold the fast path to it). */
export function parseWithSchemas(raw: unknown, type: keyof typeof schemasByType): ParseResult {
  const parsed = schemasByType[type].safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error, raw) };
  const event = parsed.data;
  if (event.type === 'journey') {
    const problem = journeyGraphProblem(event);
    if (problem) return { ok: false, reason: problem };
  }
  if (event.type === 'message') {
    return { ok: true, event: { ...event, platform: normalisePlatform(event.platform) } };
  }
  return { ok: true, event };
}

// The fast path: the same rules as the schemas above, checked by hand for the event types that make up nearly every
// line of a large import (a zod parse costs several microseconds a line). It only ever accepts: any line it does not
// accept goes through the schemas, which accept it or say why not, so its results are the schemas' results.
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;
const isNullish = (v: unknown): v is null | undefined => v === null || v === undefined;
const JOURNEY_ID = /^[A-Za-z0-9._-]+$/;
const isJourneyId = (v: unknown): v is string => isText(v, 100) && JOURNEY_ID.test(v);
const STATUSES: ReadonlySet<unknown> = new Set(MESSAGE_STATUSES);

function fastTime(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const parsed = parseTimestamp(v);
  return parsed.ok ? new Date(parsed.ms) : null;
}

function fastEvent(o: Record<string, unknown>, type: string): Exclude<ImportEvent, JourneyDef> | null {
  const { event_id, journey_id, entry_id } = o;
  if (!isText(event_id, 200)) return null;
  const at = fastTime(o.at);
  if (at === null) return null;
  if (type === 'conversion') {
    const { external_id, event } = o;
    return isText(external_id, 200) && isText(event, 200) ? { type, event_id, external_id, event, at } : null;
  }
  if (!isJourneyId(journey_id) || !isText(entry_id, 200)) return null;
  switch (type) {
    case 'journey_entry': {
      const { external_id } = o;
      return isText(external_id, 200) ? { type, event_id, journey_id, entry_id, external_id, at } : null;
    }
    case 'step_entry': {
      const { step_id } = o;
      return isText(step_id, 100) ? { type, event_id, journey_id, entry_id, step_id, at } : null;
    }
    case 'message': {
      const { step_id, status, platform, reason } = o;
      if (!isText(step_id, 100) || !STATUSES.has(status)) return null;
      if (!isNullish(platform) && typeof platform !== 'string') return null;
      if (!isNullish(reason) && !(typeof reason === 'string' && reason.length <= 500)) return null;
      return {
        type,
        event_id,
        journey_id,
        entry_id,
        step_id,
        status: status as MessageStatus,
        platform: normalisePlatform(platform),
        ...(reason === undefined ? {} : { reason }),
        at,
      };
    }
    case 'step_outcome': {
      const { step_id, outcome } = o;
      return isText(step_id, 100) && isText(outcome, 200) ? { type, event_id, journey_id, entry_id, step_id, outcome, at } : null;
    }
    case 'journey_exit': {
      const { reason } = o;
      if (!isNullish(reason) && !(typeof reason === 'string' && reason.length <= 500)) return null;
      return { type, event_id, journey_id, entry_id, ...(reason === undefined ? {} : { reason }), at };
    }
    default:
      return null;
  }
}
