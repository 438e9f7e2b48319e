// The worked example of shared/fixtures as the shapes pure tests need: its reports and its journey definition.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JourneyInfo, JourneyReport, StepKind } from '../../reports/report-types.js';

export const fixturesDir = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));

const expected = JSON.parse(readFileSync(`${fixturesDir}expected-report.json`, 'utf8')) as Record<string, JourneyReport>;

/** expected-report.json's reports: "all_time" and "period_2026-11-01". */
export function workedReport(which: 'all_time' | 'period_2026-11-01'): JourneyReport {
  return structuredClone(expected[which]!);
}

interface JourneyLine {
  journey_id: string;
  name: string;
  conversion_event: string | null;
  attribution_window_hours: number;
  reentry: boolean;
  steps: Array<{ step_id: string; name: string; kind: StepKind; campaign_id?: string; next: string[] }>;
}

/** The journey definition line of events.ndjson, as loadJourney would return it. */
export function workedJourney(): JourneyInfo {
  const line = readFileSync(`${fixturesDir}events.ndjson`, 'utf8')
    .split('\n')
    .map((l) => JSON.parse(l || '{}') as { type?: string })
    .find((e) => e.type === 'journey') as JourneyLine;
  return {
    journeyId: line.journey_id,
    name: line.name,
    conversionEvent: line.conversion_event,
    attributionWindowHours: line.attribution_window_hours,
    reentry: line.reentry,
    thresholds: null,
    steps: line.steps.map((s) => ({ stepId: s.step_id, name: s.name, kind: s.kind, campaignId: s.campaign_id ?? null, next: s.next })),
  };
}
