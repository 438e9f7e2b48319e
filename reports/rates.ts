// The derived rates of METRICS.md ("Derived rates"), as fractions; null wherever the denominator is 0.
import type { JourneyInfo, JourneyReport, StepReport } from './report-types.js';

/** part / whole, or null when whole is 0 — a rate with nothing to divide by is "n/a", never 0, NaN or Infinity. */
export function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** clicked / sent. */
export function clickRate(step: Pick<StepReport, 'clicked' | 'sent'>): number | null {
  return ratio(step.clicked, step.sent);
}

/** failed / (sent + failed): the share of send attempts that failed. */
export function failureRate(step: Pick<StepReport, 'failed' | 'sent'>): number | null {
  return ratio(step.failed, step.sent + step.failed);
}

export interface ContinuationCounts {
  /** entry_users of the step itself. */
  fromUsers: number;
  /** Sum of entry_users of the steps in its `next` (a next step missing from the report counts 0). */
  toUsers: number;
  /** The step's `next`, without repeats, in the order the journey lists them. */
  nextStepIds: string[];
}

/** The counts continuation is computed from, or null when the step has no next steps (it ends the journey). */
export function continuationCounts(
  step: Pick<StepReport, 'step_id' | 'entry_users'>,
  report: Pick<JourneyReport, 'steps'>,
  journeyInfo: Pick<JourneyInfo, 'steps'>,
): ContinuationCounts | null {
  const next = journeyInfo.steps.find((s) => s.stepId === step.step_id)?.next ?? [];
  const nextStepIds = [...new Set(next)];
  if (nextStepIds.length === 0) return null;
  const usersById = new Map(report.steps.map((s) => [s.step_id, s.entry_users]));
  const toUsers = nextStepIds.reduce((sum, id) => sum + (usersById.get(id) ?? 0), 0);
  return { fromUsers: step.entry_users, toUsers, nextStepIds };
}

/**
 * Sum of entry_users of the steps in `next` / entry_users(step). Null when nobody entered the step, and when
 * the step has no next steps (continuation is not defined there; reading it as 0 would show a 100 % drop at
 * every last step). Can exceed 1 when next steps are also reached from elsewhere.
 */
export function continuation(
  step: Pick<StepReport, 'step_id' | 'entry_users'>,
  report: Pick<JourneyReport, 'steps'>,
  journeyInfo: Pick<JourneyInfo, 'steps'>,
): number | null {
  const counts = continuationCounts(step, report, journeyInfo);
  return counts === null ? null : ratio(counts.toUsers, counts.fromUsers);
}

/** 1 − continuation: the share of the step's users that no next step saw. */
export function drop(
  step: Pick<StepReport, 'step_id' | 'entry_users'>,
  report: Pick<JourneyReport, 'steps'>,
  journeyInfo: Pick<JourneyInfo, 'steps'>,
): number | null {
  const rate = continuation(step, report, journeyInfo);
  return rate === null ? null : 1 - rate;
}
