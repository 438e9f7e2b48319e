// Registers the /journey command and the buttons' actions on a Bolt app. Listeners ack first, then work.
import type { App, BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { ACTION_ID_PATTERNS, ACTION_IDS, decodeActionValue, periodOfActionValue } from '../reports/blocks/actions.js';
import { buildErrorMessage } from '../reports/blocks/notice-blocks.js';
import { unescapeMrkdwn } from '../reports/format.js';
import type { CommandAnswer } from './command-types.js';
import { deliverAnswer, type DeliveryDeps } from './deliver.js';
import { AnswerTimeoutError, answerForError } from './error-answers.js';
import { exportAnswer } from './export.js';
import { answerJourneyCommand } from './journey-command.js';
import { targetFor } from './report-target.js';
import { stepsAnswer } from './steps.js';
import type { TimeZoneLookup } from './user-time-zone.js';

export interface SlackDeps extends DeliveryDeps {
  userTimeZone: TimeZoneLookup;
  /** An answer not ready by then is replaced by a "try again" answer. */
  answerTimeoutMs: number;
}

/** Action ids none of the listeners above takes (theirs: ACTION_ID_PATTERNS). */
const NOT_OURS = new RegExp(`^(?!(?:${Object.values(ACTION_IDS).join('|')})(?::[^:]+)*$)`);

const STALE_BUTTON = 'This button no longer works (it comes from an older answer). Run the command again.';

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AnswerTimeoutError(`no answer after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Computes and delivers; whatever fails becomes a short answer to the asker and a log line, never silence. */
async function answerSafely(
  deps: SlackDeps,
  delivery: { client: WebClient; respond: RespondFn; channelId: string; userId: string; threadTs?: string },
  compute: () => Promise<{ answer: CommandAnswer; error?: unknown }>,
): Promise<void> {
  try {
    const { answer, error } = await withTimeout(compute(), deps.answerTimeoutMs);
    if (error) deps.log.error('command failed', error);
    await deliverAnswer(deps, delivery, answer);
  } catch (err) {
    deps.log.error('answer failed', err);
    const { answer } = answerForError(err);
    if (answer.kind === 'message') {
      await delivery
        .respond({ response_type: 'ephemeral', replace_original: false, text: answer.message.text, blocks: answer.message.blocks })
        .catch((e: unknown) => deps.log.error('could not tell the asker', e));
    }
  }
}

export function journeyCommandListener(deps: SlackDeps) {
  return async ({ command, ack, respond, client }: {
    command: { text: string; user_id: string; channel_id: string };
    ack: () => Promise<void>;
    respond: RespondFn;
    client: WebClient;
  }): Promise<void> => {
    await ack();
    const delivery = { client, respond, channelId: command.channel_id, userId: command.user_id };
    await answerSafely(deps, delivery, async () => {
      const tz = await deps.userTimeZone(client, command.user_id);
      // Slack sends a command's text with &, < and > escaped, as all message text ("Tips &amp; tricks"): read as typed.
      return answerJourneyCommand(deps, { userId: command.user_id, channelId: command.channel_id, tz }, unescapeMrkdwn(command.text ?? ''));
    });
  };
}

type ButtonArgs = { body: BlockAction; action: ButtonAction; ack: () => Promise<void>; respond: RespondFn; client: WebClient };

function buttonListener(deps: SlackDeps, answerFor: (value: NonNullable<ReturnType<typeof decodeActionValue>>) => Promise<CommandAnswer>) {
  return async ({ body, action, ack, respond, client }: ButtonArgs): Promise<void> => {
    await ack();
    const channelId = body.channel?.id ?? body.container?.channel_id;
    const delivery = {
      client,
      respond,
      channelId: channelId ?? '',
      userId: body.user.id,
      threadTs: body.message?.thread_ts ?? body.message?.ts ?? body.container?.message_ts,
    };
    await answerSafely(deps, delivery, async () => {
      const value = decodeActionValue(action.value);
      if (!value || !channelId) {
        return { answer: { kind: 'message', visibility: 'ephemeral', message: buildErrorMessage(STALE_BUTTON) } };
      }
      return { answer: await answerFor(value) };
    });
  };
}

export function stepsButtonListener(deps: SlackDeps) {
  return buttonListener(deps, async (value) =>
    stepsAnswer(deps, await targetFor(deps, value.j, periodOfActionValue(value), value.tz)),
  );
}

export function exportButtonListener(deps: SlackDeps) {
  return buttonListener(deps, async (value) => {
    const target = await targetFor(deps, value.j, periodOfActionValue(value), value.tz);
    if (!value.x) return { kind: 'message', visibility: 'ephemeral', message: buildErrorMessage(STALE_BUTTON) };
    return exportAnswer(deps, target, {
      journey: target.journey,
      kind: value.x,
      period: target.period,
      stepId: value.s ?? null,
      status: value.st ?? null,
    });
  });
}

export function register(app: App, deps: SlackDeps): void {
  app.command('/journey', journeyCommandListener(deps));
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_ID_PATTERNS.steps }, stepsButtonListener(deps));
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_ID_PATTERNS.export }, exportButtonListener(deps));
  // A link button opens its URL in the browser; Slack still sends the click, which only needs an ack.
  app.action({ type: 'block_actions', action_id: ACTION_ID_PATTERNS.campaignReport }, async ({ ack }) => {
    await ack();
  });
  // Any other action (a button of an older version, an element this app does not know) is acknowledged and left:
  // unacknowledged, Bolt answers 404 after 3 s and Slack shows the person an error.
  app.action({ type: 'block_actions', action_id: NOT_OURS }, async ({ ack }) => {
    await ack();
  });
}
