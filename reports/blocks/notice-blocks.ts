// Short answers shown only to the asker: errors people can act on, and plain notices.
import { sectionBlock, singleMessage, type SlackMessage } from './slack-message.js';

/** An error answer (mrkdwn); the text should say what went wrong and what to do instead. */
export function buildErrorMessage(text: string): SlackMessage {
  return singleMessage(`:warning: ${text}`, [sectionBlock(`:warning: ${text}`)]);
}

/** A notice such as "nothing to export" or "digest removed" (mrkdwn). */
export function buildNoticeMessage(text: string): SlackMessage {
  return singleMessage(text, [sectionBlock(text)]);
}
