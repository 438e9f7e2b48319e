// Global Bolt middleware: refuses requests from another workspace or meant for another app, and keeps count of
// every request still being answered so a graceful stop waits for it.
import type { AnyMiddlewareArgs, App, Middleware } from '@slack/bolt';
import type { InFlight } from './in-flight.js';
import type { Logger } from './logger.js';

export const FOREIGN_REQUEST_TEXT = 'This app answers only in the workspace it was installed for.';

export interface SlackGuardOptions {
  /** The only workspace (team id) to answer; undefined: any. */
  teamId: string | undefined;
  /** The only app id requests may be meant for; undefined: any. */
  appId: string | undefined;
}

interface RequestIds {
  team_id?: string;
  api_app_id?: string;
  team?: { id?: string } | null;
  user?: { team_id?: string } | null;
}

/**
 * The workspace a request comes from, read from the request itself: Bolt's context.teamId is the bot's own
 * workspace when the app runs with one token, so it cannot tell a foreign request apart.
 */
export function requestTeamId(body: unknown): string | undefined {
  const ids = body as RequestIds;
  return ids.team_id ?? ids.team?.id ?? ids.user?.team_id ?? undefined;
}

export function foreignRequestReason(body: unknown, expected: SlackGuardOptions): string | null {
  const team = requestTeamId(body);
  const app = (body as RequestIds).api_app_id;
  if (expected.teamId !== undefined && team !== expected.teamId) return `workspace ${team ?? 'unknown'}`;
  if (expected.appId !== undefined && app !== expected.appId) return `app ${app ?? 'unknown'}`;
  return null;
}

export function slackGuard(expected: SlackGuardOptions, log: Logger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const reason = foreignRequestReason(args.body, expected);
    if (reason === null) return args.next();
    log.warn(`refused a Slack request from ${reason}`);
    // Commands get a visible refusal (to the asker only); buttons and other requests only their acknowledgement.
    if ('command' in args) return args.ack({ response_type: 'ephemeral', text: FOREIGN_REQUEST_TEXT });
    if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
  };
}

export function installSlackGuard(app: App, expected: SlackGuardOptions, inFlight: InFlight, log: Logger): void {
  app.use(slackGuard(expected, log));
  app.use(async ({ next }) => inFlight.track(() => next()));
}
