// The contract between buttons and their listeners: action ids, and the compact JSON each button's value carries.
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { EXPORT_KINDS, STEP_USER_STATUSES, type ExportKind, type StepUserStatus } from '../export-kinds.js';
import type { Period } from '../report-types.js';

/**
 * Base action ids. Slack rejects a message whose block holds two elements with the same action_id, so buttons
 * that share a block get a suffix (`journey_export:converted-users`); listeners match with ACTION_ID_PATTERNS.
 */
export const ACTION_IDS = {
  steps: 'journey_steps',
  export: 'journey_export',
  campaignReport: 'campaign_report',
} as const;

export type ActionBase = (typeof ACTION_IDS)[keyof typeof ACTION_IDS];

/** What to pass to Bolt's `app.action(...)`: the base id with or without a `:suffix`. */
export const ACTION_ID_PATTERNS: Readonly<Record<keyof typeof ACTION_IDS, RegExp>> = {
  steps: /^journey_steps(?::[^:]+)*$/,
  export: /^journey_export(?::[^:]+)*$/,
  campaignReport: /^campaign_report(?::[^:]+)*$/,
};

/** The base an action id belongs to, or null for ids this app did not make. */
export function actionBase(actionId: string): ActionBase | null {
  const base = actionId.split(':', 1)[0];
  return Object.values(ACTION_IDS).find((id) => id === base) ?? null;
}

/** `base` or `base:part:part`, kept within Slack's 255 characters. */
export function actionId(base: ActionBase, ...parts: string[]): string {
  return [base, ...parts].join(':').slice(0, 255);
}

export { EXPORT_KINDS, STEP_USER_STATUSES, type ExportKind, type StepUserStatus };

/** Where a button was pressed from: the journey, period and zone the answer to it must use. */
export interface ActionContext {
  from: Date | null;
  to: Date | null;
  tz: string;
}

export interface ActionValue {
  /** journey id */
  j: string;
  /** period start, ISO-8601 UTC, or null */
  from: string | null;
  /** period end (exclusive), ISO-8601 UTC, or null */
  to: string | null;
  /** IANA zone the answer states */
  tz: string;
  /** export kind (export buttons) */
  x?: ExportKind;
  /** step id (step-users exports, Report buttons) */
  s?: string;
  /** status (step-users exports) */
  st?: StepUserStatus;
}

/** Slack's limit on a button value. */
export const MAX_ACTION_VALUE_LENGTH = 2000;

const isoOrNull = z.iso.datetime().nullable();

const actionValueSchema = z
  .strictObject({
    j: z.string().min(1).max(100),
    from: isoOrNull,
    to: isoOrNull,
    tz: z.string().min(1).max(100).refine((tz) => IANAZone.isValidZone(tz), 'unknown time zone'),
    x: z.enum(EXPORT_KINDS).optional(),
    s: z.string().min(1).max(100).optional(),
    st: z.enum(STEP_USER_STATUSES).optional(),
  })
  .refine((v) => v.from === null || v.to === null || Date.parse(v.from) < Date.parse(v.to), 'from must be before to')
  .refine((v) => (v.x === 'step-users') === (v.st !== undefined), 'a status goes with a step-users export, and only there')
  .refine((v) => v.x !== 'step-users' || v.s !== undefined, 'a step-users export names its step');

/** The button value for a context plus what the button is about. */
export function actionValueFor(
  journeyId: string,
  context: ActionContext,
  extra: Pick<ActionValue, 'x' | 's' | 'st'> = {},
): ActionValue {
  return {
    j: journeyId,
    from: context.from?.toISOString() ?? null,
    to: context.to?.toISOString() ?? null,
    tz: context.tz,
    ...extra,
  };
}

/**
 * Compact JSON for a button's value. Throws RangeError if it would exceed Slack's 2000 characters, which ids
 * within the import limits (journey ≤ 100, step ≤ 100 characters) cannot reach.
 */
export function encodeActionValue(value: ActionValue): string {
  const ordered: ActionValue = { j: value.j, from: value.from, to: value.to, tz: value.tz };
  if (value.x !== undefined) ordered.x = value.x;
  if (value.s !== undefined) ordered.s = value.s;
  if (value.st !== undefined) ordered.st = value.st;
  const text = JSON.stringify(ordered);
  if (text.length > MAX_ACTION_VALUE_LENGTH) {
    throw new RangeError(`button value is ${text.length} characters, Slack allows ${MAX_ACTION_VALUE_LENGTH}`);
  }
  return text;
}

/** The value of a pressed button, or null when it is not one this app made (bad JSON, wrong shape). */
export function decodeActionValue(text: string | undefined | null): ActionValue | null {
  if (typeof text !== 'string' || text.length > MAX_ACTION_VALUE_LENGTH) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = actionValueSchema.safeParse(json);
  if (!parsed.success) return null;
  const { x, s, st, ...rest } = parsed.data;
  const value: ActionValue = { ...rest };
  if (x !== undefined) value.x = x;
  if (s !== undefined) value.s = s;
  if (st !== undefined) value.st = st;
  return value;
}

/** The report period a decoded value names. */
export function periodOfActionValue(value: ActionValue): Period {
  return {
    from: value.from === null ? null : new Date(value.from),
    to: value.to === null ? null : new Date(value.to),
  };
}
