// Interpretation flags (SLACK.md): which steps and journeys trip a threshold, with the figures that tripped it.
import { escapeMrkdwn, formatCount, formatNameList, formatPercentNear, formatThreshold } from './format.js';
import { continuationCounts } from './rates.js';
import type { JourneyInfo, JourneyReport, StepKind } from './report-types.js';

export interface Thresholds {
  /** Flag a step when more than this % of its users reach none of its next steps. */
  drop: number;
  /** Flag a step when more than this % of its send attempts failed (failed / (sent + failed)). */
  failure: number;
  /** Flag a push or email step whose click rate (clicked / sent) is below this %… */
  ctr: number;
  /** Flag the journey when its conversion rate is below this %… */
  conversion: number;
  /** …but only once the step has sent at least this many messages, so a handful of sends is not judged. */
  min_sent: number;
  /** …but only once the journey has at least this many entries, for the same reason. */
  min_entries: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  drop: 40,
  failure: 10,
  ctr: 1,
  conversion: 2,
  min_sent: 100,
  min_entries: 100,
});

export type ThresholdKey = keyof Thresholds;
export const THRESHOLD_KEYS = ['drop', 'failure', 'ctr', 'conversion', 'min_sent', 'min_entries'] as const satisfies readonly ThresholdKey[];
const PERCENT_KEYS: ReadonlySet<ThresholdKey> = new Set(['drop', 'failure', 'ctr', 'conversion']);

export type FlagKind = 'drop' | 'failure' | 'low_ctr' | 'low_conversion';

export interface Flag {
  kind: FlagKind;
  /** The step the flag is about; null for journey-level flags (low conversion). */
  stepId: string | null;
  stepName: string | null;
  /** mrkdwn naming the step and the figures that tripped the flag. */
  message: string;
  /** The measured percentage. */
  value: number;
  /** The threshold (percentage) it was compared against. */
  threshold: number;
}

/** Whether value is acceptable for key: percentages in 0–100, volume minimums whole and non-negative. */
function isValidThreshold(key: ThresholdKey, value: number): boolean {
  if (!Number.isFinite(value) || value < 0) return false;
  return PERCENT_KEYS.has(key) ? value <= 100 : Number.isInteger(value);
}

function isThresholdKey(key: string): key is ThresholdKey {
  return (THRESHOLD_KEYS as readonly string[]).includes(key);
}

/**
 * The defaults with a journey's own settings on top. Stored settings that are unknown or out of range are
 * ignored rather than thrown on, so one bad value cannot stop a journey's reports and digests.
 */
export function resolveThresholds(journeyThresholds: Record<string, number> | null): Thresholds {
  const resolved: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(journeyThresholds ?? {})) {
    if (isThresholdKey(key) && typeof value === 'number' && isValidThreshold(key, value)) resolved[key] = value;
  }
  return resolved;
}

export type ParsedThresholds = { ok: true; thresholds: Partial<Thresholds> } | { ok: false; error: string };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Parses "drop=40 failure=10 ctr=1 conversion=2" (spaces or commas between; a trailing % is allowed). */
export function parseThresholdArgs(text: string): ParsedThresholds {
  const tokens = text.split(/[\s,]+/).filter((t) => t !== '');
  if (tokens.length === 0) return { ok: false, error: `No thresholds given. Example: ${EXAMPLE}` };
  const thresholds: Partial<Thresholds> = {};
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0) return { ok: false, error: `"${token}" is not key=value. Example: ${EXAMPLE}` };
    const key = token.slice(0, eq).toLowerCase();
    const raw = token.slice(eq + 1);
    if (!isThresholdKey(key)) {
      return { ok: false, error: `Unknown threshold "${token.slice(0, eq)}". Known: ${THRESHOLD_KEYS.join(', ')}.` };
    }
    if (key in thresholds) return { ok: false, error: `${key} is given more than once.` };
    const isPercent = PERCENT_KEYS.has(key);
    const digits = isPercent && raw.endsWith('%') ? raw.slice(0, -1) : raw;
    if (!NUMBER.test(digits)) return { ok: false, error: `${key} must be a number, got "${raw}".` };
    const value = Number(digits);
    if (!isValidThreshold(key, value)) {
      return {
        ok: false,
        error: isPercent
          ? `${key} is a percentage and must be between 0 and 100, got ${digits}.`
          : `${key} is a count and must be a whole number of 0 or more, got ${digits}.`,
      };
    }
    thresholds[key] = value;
  }
  return { ok: true, thresholds };
}

const EXAMPLE = '`drop=40 failure=10 ctr=1 conversion=2 min_sent=100 min_entries=100`';

/** Kinds whose messages can be clicked; only these are judged on click rate. */
const CLICKABLE_KINDS: ReadonlySet<StepKind> = new Set(['push', 'email']);

/**
 * The flags a report trips, journey-level first, then per step in display order (failure, click rate, drop).
 * Comparisons are strict as SLACK.md words them: "above threshold" is >, "low" is <. Percentages are computed
 * as part × 100 / whole so a figure that is exactly the threshold (1 failed of 10 = 10 %) compares equal
 * instead of off by a rounding error.
 */
export function computeFlags(report: JourneyReport, journeyInfo: JourneyInfo, thresholds: Thresholds): Flag[] {
  const flags: Flag[] = [];
  const conversion = conversionFlag(report, journeyInfo, thresholds);
  if (conversion) flags.push(conversion);
  const names = new Map(report.steps.map((s) => [s.step_id, s.name]));
  for (const step of report.steps) {
    const name = `*${escapeMrkdwn(step.name)}*`;
    const flag = (kind: FlagKind, value: number, threshold: number, message: string): Flag => ({
      kind,
      stepId: step.step_id,
      stepName: step.name,
      message,
      value,
      threshold,
    });

    const attempts = step.sent + step.failed;
    if (attempts > 0) {
      const failure = (step.failed * 100) / attempts;
      if (failure > thresholds.failure) {
        flags.push(
          flag(
            'failure',
            failure,
            thresholds.failure,
            `${name}: ${formatPercentNear(failure, thresholds.failure)} of sends failed ` +
              `(${formatCount(step.failed)} failed, ${formatCount(step.sent)} sent; threshold ${formatThreshold(thresholds.failure)})`,
          ),
        );
      }
    }

    if (CLICKABLE_KINDS.has(step.kind) && step.sent >= thresholds.min_sent && step.sent > 0) {
      const ctr = (step.clicked * 100) / step.sent;
      if (ctr < thresholds.ctr) {
        flags.push(
          flag(
            'low_ctr',
            ctr,
            thresholds.ctr,
            `${name}: ${formatPercentNear(ctr, thresholds.ctr)} click rate ` +
              `(${formatCount(step.clicked)} clicked of ${formatCount(step.sent)} sent; threshold ${formatThreshold(thresholds.ctr)})`,
          ),
        );
      }
    }

    const counts = continuationCounts(step, report, journeyInfo);
    if (counts !== null && counts.fromUsers > 0) {
      const dropPercent = ((counts.fromUsers - counts.toUsers) * 100) / counts.fromUsers;
      if (dropPercent > thresholds.drop) {
        flags.push(
          flag(
            'drop',
            dropPercent,
            thresholds.drop,
            `${name} → ${describeNext(counts.nextStepIds, names)}: ${formatPercentNear(dropPercent, thresholds.drop)} drop ` +
              `(${formatCount(counts.fromUsers)} → ${formatCount(counts.toUsers)} users; threshold ${formatThreshold(thresholds.drop)})`,
          ),
        );
      }
    }
  }
  return flags;
}

function conversionFlag(report: JourneyReport, journeyInfo: JourneyInfo, thresholds: Thresholds): Flag | null {
  const { overview } = report;
  if (journeyInfo.conversionEvent === null) return null;
  if (overview.conversion_rate === null || overview.converted_users === null || overview.entry_users === 0) return null;
  if (overview.total_entries < thresholds.min_entries) return null;
  // Compared in exact form (see computeFlags); shown as the report's own figure.
  const exact = (overview.converted_users * 100) / overview.entry_users;
  if (!(exact < thresholds.conversion)) return null;
  return {
    kind: 'low_conversion',
    stepId: null,
    stepName: null,
    message:
      `Conversion rate ${formatPercentNear(overview.conversion_rate, thresholds.conversion)} ` +
      `(${formatCount(overview.converted_users)} of ${formatCount(overview.entry_users)} users, ` +
      `${formatCount(overview.total_entries)} entries; threshold ${formatThreshold(thresholds.conversion)})`,
    value: overview.conversion_rate,
    threshold: thresholds.conversion,
  };
}

/** "*Welcome email*" for one next step, "next steps (*A*, *B*)" for a branch. */
function describeNext(nextStepIds: string[], names: Map<string, string>): string {
  const list = formatNameList(nextStepIds.map((id) => names.get(id) ?? id));
  return nextStepIds.length === 1 ? list : `next steps (${list})`;
}

/** Flags about one step, in the order computeFlags gave them. */
export function flagsForStep(flags: readonly Flag[], stepId: string): Flag[] {
  return flags.filter((f) => f.stepId === stepId);
}
