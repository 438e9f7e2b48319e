// The names of the CSV exports and of the step statuses a step-users export can select.
import { MESSAGE_STATUSES } from '../db/import/parse-event.js';

export const EXPORT_KINDS = ['converted-users', 'conversion-events', 'entries', 'exits', 'step-users'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];
export const STEP_USER_STATUSES = ['entered', ...MESSAGE_STATUSES] as const;
export type StepUserStatus = (typeof STEP_USER_STATUSES)[number];
