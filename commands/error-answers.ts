// Maps every error a command can meet to the short answer the asker sees (only to them); no stack trace reaches Slack.
import { buildErrorMessage } from '../reports/blocks/notice-blocks.js';
import { ExportRequestError } from '../reports/exports.js';
import { AmbiguousJourneyError, UnknownJourneyError, UnknownStepError } from '../reports/journey-lookup.js';
import { PeriodError } from '../reports/periods.js';
import { ScheduleError } from '../reports/schedules.js';
import { CommandUsageError, type CommandAnswer } from './command-types.js';
import { CommandSyntaxError } from './parse-command.js';

export const UNAVAILABLE_TEXT =
  'The journey data is unavailable right now (the database is not answering). Try again in a minute.';
export const SLOW_TEXT = 'That took too long: the journey data is slow right now. Try again in a minute, or ask for a shorter period.';
export const SLACK_TEXT = 'Slack did not take the answer just now (its service did not answer or refused the call). Try again in a minute.';
export const INTERNAL_TEXT = 'Something went wrong while answering; it has been logged. Try again, and tell the app’s admins if it keeps happening.';

/** A failed call of Slack's Web API (@slack/web-api's errors carry codes such as slack_webapi_request_error). */
export function isSlackApiError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('slack_');
}

/** Errors of the database connection (not of a query): worth a "try again". Slack's own network errors are not. */
export function isUnavailable(err: unknown): boolean {
  if (isSlackApiError(err)) return false;
  const code = (err as { code?: unknown } | null)?.code;
  const cause = (err as { cause?: unknown } | null)?.cause;
  // SQLSTATE: connection exceptions (08), shutdown (57P0x), resources (53), the database gone (3D000) or refusing
  // connections (55000 "not currently accepting connections"), and the role refused (28xxx).
  if (typeof code === 'string' && (/^(ECONN|ETIMEDOUT|ENOTFOUND|EPIPE|EAI_AGAIN)/.test(code) || /^(08|57P0|53|28|3D000)/.test(code))) return true;
  if (code === '55000' && /not currently accepting connections/i.test(err instanceof Error ? err.message : '')) return true;
  const message = err instanceof Error ? err.message : '';
  if (/Connection terminated|connection (refused|closed)|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) return true;
  return cause !== undefined && cause !== err && isUnavailable(cause);
}

export class AnswerTimeoutError extends Error {
  override name = 'AnswerTimeoutError';
}

export function answerForError(err: unknown): { answer: CommandAnswer; expected: boolean } {
  const ephemeral = (text: string, expected: boolean) => ({
    answer: { kind: 'message', visibility: 'ephemeral', message: buildErrorMessage(text) } as CommandAnswer,
    expected,
  });
  if (
    err instanceof CommandUsageError ||
    err instanceof CommandSyntaxError ||
    err instanceof UnknownJourneyError ||
    err instanceof AmbiguousJourneyError ||
    err instanceof UnknownStepError ||
    err instanceof PeriodError ||
    err instanceof ScheduleError ||
    err instanceof ExportRequestError
  ) {
    return ephemeral(err.message, true);
  }
  if (err instanceof AnswerTimeoutError) return ephemeral(SLOW_TEXT, false);
  if (isSlackApiError(err)) return ephemeral(SLACK_TEXT, false);
  if (isUnavailable(err)) return ephemeral(UNAVAILABLE_TEXT, false);
  return ephemeral(INTERNAL_TEXT, false);
}
