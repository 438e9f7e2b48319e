// Renders a SlackMessage as readable plain text, for the CLI preview and for tests that read like the product.
import type { Button, KnownBlock, TextObject } from '@slack/types';
import { unescapeMrkdwn } from '../format.js';
import type { SlackMessage, SlackMessagePart } from './slack-message.js';

export const THREAD_SEPARATOR = '── thread ──';

export function renderMessageAsText(message: SlackMessage): string {
  const parts = [renderPart(message)];
  if (message.thread.length > 0) {
    parts.push(THREAD_SEPARATOR, ...message.thread.map(renderPart));
  }
  return `${parts.join('\n\n')}\n`;
}

function renderPart(part: SlackMessagePart): string {
  if (part.blocks.length === 0) return readable(part.text);
  return part.blocks
    .map(renderBlock)
    .filter((text) => text !== '')
    .join('\n');
}

function renderBlock(block: KnownBlock): string {
  switch (block.type) {
    case 'header': {
      const text = block.text.text;
      return `${text}\n${'='.repeat(Array.from(text).length)}`;
    }
    case 'section': {
      const lines: string[] = [];
      if (block.text) lines.push(textOf(block.text));
      for (const field of block.fields ?? []) lines.push(fieldLine(field));
      if (block.accessory?.type === 'button') lines.push(renderButton(block.accessory));
      return lines.join('\n');
    }
    case 'context':
      return block.elements
        .map((e) => ('text' in e && typeof e.text === 'string' ? readable(e.text) : ''))
        .filter((t) => t !== '')
        .join(' · ');
    case 'divider':
      return '────────';
    case 'image':
      return `[image: ${block.alt_text}]`;
    case 'actions':
      return block.elements
        .map((e) => (e.type === 'button' ? renderButton(e) : `[${e.type}]`))
        .join(' ');
    default:
      return `[${block.type} block]`;
  }
}

/** "*Label*\nvalue" fields read as "Label: value"; anything else as it is. */
function fieldLine(field: TextObject): string {
  const text = textOf(field);
  const newline = text.indexOf('\n');
  if (newline < 0) return text;
  return `${text.slice(0, newline)}: ${text.slice(newline + 1).replace(/\n/g, ' ')}`;
}

function renderButton(button: Button): string {
  const label = button.text.text;
  return button.url === undefined ? `[${label}]` : `[${label} → ${button.url}]`;
}

function textOf(text: TextObject): string {
  return text.type === 'mrkdwn' ? readable(text.text) : text.text;
}

/** mrkdwn without its markup: bold stars (outside `code`), link brackets and entities. */
function readable(mrkdwn: string): string {
  const stripped = mrkdwn
    .split('`')
    .map((segment, i) => (i % 2 === 1 ? segment : stripMarkup(segment)))
    .join('`');
  return unescapeMrkdwn(stripped);
}

function stripMarkup(text: string): string {
  return text
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/gm, '$1$2');
}
