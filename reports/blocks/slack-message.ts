// The message shape every builder returns, Slack's size limits, small typed block helpers, and thread splitting.
import type { ActionsBlock, Button, ContextBlock, DividerBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/types';
import { clipText, escapeMrkdwn } from '../format.js';

export interface SlackMessagePart {
  /** Notification / fallback text (also what screen readers and old clients show). */
  text: string;
  blocks: KnownBlock[];
}

export interface SlackMessage extends SlackMessagePart {
  /** Continuation messages to post in this message's thread, in order, when the content does not fit in one. */
  thread: SlackMessagePart[];
}

/** The limits Slack enforces (SLACK.md "Limits that Slack enforces", plus the Block Kit reference). */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  fieldsPerSection: 10,
  fieldText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  actionId: 255,
  /** Slack truncates longer top-level texts; kept at a section's size so fallbacks stay readable. */
  messageText: 3000,
} as const;

export function headerBlock(text: string): HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: clipText(text, SLACK_LIMITS.headerText), emoji: true } };
}

export function sectionBlock(mrkdwn: string, accessory?: Button): SectionBlock {
  const block: SectionBlock = { type: 'section', text: { type: 'mrkdwn', text: clipText(mrkdwn, SLACK_LIMITS.sectionText) } };
  if (accessory) block.accessory = accessory;
  return block;
}

/** A section of "*Label*\nvalue" fields (Slack shows them in two columns); at most 10 fields. */
export function fieldsBlock(fields: ReadonlyArray<readonly [label: string, value: string]>): SectionBlock {
  if (fields.length === 0 || fields.length > SLACK_LIMITS.fieldsPerSection) {
    throw new RangeError(`a section holds 1–${SLACK_LIMITS.fieldsPerSection} fields, got ${fields.length}`);
  }
  return {
    type: 'section',
    fields: fields.map(([label, value]) => ({
      type: 'mrkdwn' as const,
      text: clipText(`*${label}*\n${value}`, SLACK_LIMITS.fieldText),
    })),
  };
}

export function contextBlock(...mrkdwn: string[]): ContextBlock {
  return {
    type: 'context',
    elements: mrkdwn
      .slice(0, SLACK_LIMITS.contextElements)
      .map((text) => ({ type: 'mrkdwn' as const, text: clipText(text, SLACK_LIMITS.contextText) })),
  };
}

export function dividerBlock(): DividerBlock {
  return { type: 'divider' };
}

export function actionsBlock(buttons: Button[]): ActionsBlock {
  return { type: 'actions', elements: buttons.slice(0, SLACK_LIMITS.actionsElements) };
}

export function button(options: { text: string; actionId: string; value: string; url?: string; primary?: boolean }): Button {
  const element: Button = {
    type: 'button',
    text: { type: 'plain_text', text: clipText(options.text, SLACK_LIMITS.buttonText), emoji: true },
    action_id: options.actionId,
    value: options.value,
  };
  if (options.url !== undefined) element.url = options.url;
  if (options.primary) element.style = 'primary';
  return element;
}

/** A one-part message with no thread. */
export function singleMessage(text: string, blocks: KnownBlock[]): SlackMessage {
  return { text: clipText(text, SLACK_LIMITS.messageText), blocks, thread: [] };
}

/**
 * Lays out head blocks and item groups (a group is never split) over the message and as many thread messages
 * as needed, each within the block limit. When it splits, every part says which part it is, so nothing is
 * dropped silently.
 */
export function paginate(options: {
  head: KnownBlock[];
  items: KnownBlock[][];
  /** Fallback text of the first message (mrkdwn, already escaped). */
  text: string;
  /** Names the content in thread messages, e.g. "Welcome series — steps" (plain; escaped here). */
  title: string;
}): SlackMessage {
  const { head, items, text, title } = options;
  const max = SLACK_LIMITS.blocksPerMessage;
  if (head.length + items.flat().length <= max) return singleMessage(text, [...head, ...items.flat()]);

  // Each part reserves one block for its "part k of n" context line.
  const parts: KnownBlock[][][] = [[]];
  let room = max - head.length - 1;
  for (const group of items) {
    if (group.length > max - 1) throw new RangeError(`an item of ${group.length} blocks cannot fit in one message`);
    const current = parts[parts.length - 1];
    if (current !== undefined && group.length <= room) {
      current.push(group);
      room -= group.length;
    } else {
      parts.push([group]);
      room = max - 1 - group.length;
    }
  }
  const total = parts.length;
  const label = (k: number) => `Part ${k} of ${total}`;
  const [first = [], ...rest] = parts;
  return {
    text: clipText(text, SLACK_LIMITS.messageText),
    blocks: [...head, ...first.flat(), contextBlock(`${label(1)} · continued in thread`)],
    thread: rest.map((groups, i) => ({
      text: clipText(`${escapeMrkdwn(title)} (${label(i + 2).toLowerCase()})`, SLACK_LIMITS.messageText),
      blocks: [contextBlock(`${escapeMrkdwn(title)} · ${label(i + 2)}`), ...groups.flat()],
    })),
  };
}
