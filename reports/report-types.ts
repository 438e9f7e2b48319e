// The journey report of METRICS.md: the one shape every surface (Slack, digest, CLI, API) reads numbers from.
import type { Platform, StepKind } from '../db/import/parse-event.js';

export type { Platform, StepKind };

export interface Period {
  /** Inclusive start, or null for "since the beginning". */
  from: Date | null;
  /** Exclusive end, or null for "until now and later". */
  to: Date | null;
}

export const ALL_TIME: Period = { from: null, to: null };

export interface Overview {
  messages_sent: number;
  total_entries: number;
  entry_users: number;
  converted_users: number | null;
  conversion_events: number | null;
  conversion_rate: number | null;
  total_exits: number;
  exits_before_first_step: number;
}

export interface PlatformCounts {
  sent: number;
  failed: number;
  clicked: number;
}

export interface StepReport {
  step_id: string;
  name: string;
  kind: StepKind;
  entry_count: number;
  entry_users: number;
  sent: number;
  failed: number;
  shown: number;
  clicked: number;
  platforms: Partial<Record<Platform, PlatformCounts>>;
  outcomes: Record<string, number>;
  exits: number;
}

export interface JourneyReport {
  journey: { journey_id: string; name: string };
  period: { from: string | null; to: string | null };
  overview: Overview;
  steps: StepReport[];
}

/** Journey settings and step graph that presentations need beside the numbers (not part of the report JSON). */
export interface JourneyInfo {
  journeyId: string;
  name: string;
  conversionEvent: string | null;
  attributionWindowHours: number;
  reentry: boolean;
  thresholds: Record<string, number> | null;
  steps: Array<{ stepId: string; name: string; kind: StepKind; campaignId: string | null; next: string[] }>;
}
