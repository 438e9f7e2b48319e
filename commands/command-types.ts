// What every /journey subcommand receives and returns, independent of Slack's transport.
import type { Db } from '../db/client.js';
import type { DigestOrigin } from '../reports/blocks/digest-blocks.js';
import type { SlackMessage } from '../reports/blocks/slack-message.js';
import type { Digest } from '../reports/digest.js';
import type { ExportRequest } from '../reports/exports.js';

export interface CommandDeps {
  db: Db;
  /** The clock: periods like "today" are relative to it. */
  now: () => Date;
  /** Template of a campaign report URL ({campaign_id}, {journey_id}, {step_id}); undefined: no Report buttons. */
  campaignReportUrl: string | undefined;
}

export interface Asker {
  userId: string;
  channelId: string;
  /** The asker's IANA time zone (periods are read in it). */
  tz: string;
}

export type CommandAnswer =
  | { kind: 'message'; visibility: 'in_channel' | 'ephemeral'; message: SlackMessage }
  | { kind: 'export'; request: ExportRequest; rows: number; periodLabel: string; tz: string }
  /** A digest to post in the channel now (its chart may need an upload, so it is posted, not responded). */
  | { kind: 'digest'; digest: Digest; origin: DigestOrigin };

/** A command typed wrongly: the message says what to type instead. */
export class CommandUsageError extends Error {
  override name = 'CommandUsageError';
}
