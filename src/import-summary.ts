// The JSON summary of an import, one shape for `cli import --json` and POST /ingest (and read back by `--url`).
import type { ImportSummary, Rejection } from '../db/import/import-events.js';

/** How many rejected lines a summary lists (all are counted). */
export const LISTED_REJECTIONS = 100;

export interface ImportSummaryJson {
  import_id: number;
  status: ImportSummary['status'];
  lines: number;
  seconds: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first rejected lines: line number in the input and a reason a person understands. */
  rejections: Rejection[];
}

export function importSummaryJson(s: ImportSummary, ms: number): ImportSummaryJson {
  return {
    import_id: s.importId,
    status: s.status,
    lines: s.lines,
    seconds: Math.round(ms) / 1000,
    accepted: s.accepted,
    duplicates: s.duplicates,
    rejected: s.rejected,
    rejections: s.rejections.slice(0, LISTED_REJECTIONS),
  };
}
