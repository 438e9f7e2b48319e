// Plain-text rendering of Block Kit messages, as the CLI preview shows them.
import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import type { SlackMessage } from '../../reports/blocks/slack-message.js';

const one = (block: KnownBlock): SlackMessage => ({ text: 'fallback', blocks: [block], thread: [] });

describe('renderMessageAsText', () => {
  const cases: Array<{ name: string; input: SlackMessage; want: string }> = [
    { name: 'header underlined', input: one({ type: 'header', text: { type: 'plain_text', text: 'Welcome' } }), want: 'Welcome\n=======\n' },
    {
      name: 'section mrkdwn without markup (entities, links, bold) but code kept',
      input: one({ type: 'section', text: { type: 'mrkdwn', text: '*A &amp; B* <https://x.test|site> `*x*` &lt;y&gt;' } }),
      want: 'A & B site (https://x.test) `*x*` <y>\n',
    },
    {
      name: 'fields as "Label: value"',
      input: one({
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Messages Sent*\n4' },
          { type: 'plain_text', text: 'no label' },
        ],
      }),
      want: 'Messages Sent: 4\nno label\n',
    },
    {
      name: 'context elements joined',
      input: one({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Period: all time' }, { type: 'plain_text', text: 'UTC' }] }),
      want: 'Period: all time · UTC\n',
    },
    { name: 'divider', input: one({ type: 'divider' }), want: '────────\n' },
    {
      name: 'buttons and link buttons',
      input: one({
        type: 'actions',
        elements: [
          { type: 'button', text: { type: 'plain_text', text: 'Steps' }, action_id: 'a' },
          { type: 'button', text: { type: 'plain_text', text: 'Report' }, action_id: 'b', url: 'https://x.test/r' },
        ],
      }),
      want: '[Steps] [Report → https://x.test/r]\n',
    },
    {
      name: 'section accessory button',
      input: one({
        type: 'section',
        text: { type: 'mrkdwn', text: 'Step' },
        accessory: { type: 'button', text: { type: 'plain_text', text: 'Report' }, action_id: 'r', url: 'https://x.test' },
      }),
      want: 'Step\n[Report → https://x.test]\n',
    },
    {
      name: 'thread messages after the separator',
      input: {
        text: 'main',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'part 1' } }],
        thread: [
          { text: 'two', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'part 2' } }] },
          { text: 'three', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'part 3' } }] },
        ],
      },
      want: 'part 1\n\n── thread ──\n\npart 2\n\npart 3\n',
    },
    { name: 'a message without blocks shows its text', input: { text: 'just *text*', blocks: [], thread: [] }, want: 'just text\n' },
  ];
  it.each(cases)('$name', ({ input, want }) => expect(renderMessageAsText(input)).toBe(want));
});
