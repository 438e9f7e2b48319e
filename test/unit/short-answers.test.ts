// Help, list, error and notice answers, and the limit checker the builder tests rely on.
import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { buildHelpMessage } from '../../reports/blocks/help-blocks.js';
import { buildListMessage, type JourneyListRow } from '../../reports/blocks/list-blocks.js';
import { buildErrorMessage, buildNoticeMessage } from '../../reports/blocks/notice-blocks.js';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import type { SlackMessage } from '../../reports/blocks/slack-message.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';

function checked(message: SlackMessage): SlackMessage {
  assertWithinSlackLimits(message);
  return message;
}

describe('buildHelpMessage', () => {
  const text = renderMessageAsText(checked(buildHelpMessage()));
  const subcommands = [
    '/journey help',
    '/journey list [words]',
    '/journey overview <journey> [period]',
    '/journey steps <journey> [period]',
    '/journey step <journey> <step> [period]',
    '/journey export <journey> <export> [step] [status] [period]',
    '/journey digest add <journey|all> <schedule> [tz]',
    '/journey digest list | remove <id> | now <journey|all>',
  ];
  it.each(subcommands)('explains `%s`', (usage) => expect(text).toContain(`\`${usage}\``));

  it.each(['/journey overview welcome', '/journey export welcome step-users s1 failed', '/journey digest add welcome daily 09:00'])(
    'gives the example `%s`',
    (example) => expect(text).toContain(`• \`${example}\``),
  );

  it('escapes <journey> so Slack does not read it as a link', () => {
    const raw = JSON.stringify(buildHelpMessage().blocks);
    expect(raw).toContain('&lt;journey&gt;');
    expect(raw).not.toContain('<journey>');
  });
});

describe('buildListMessage', () => {
  const row = (i: number, extra: Partial<JourneyListRow> = {}): JourneyListRow => ({
    journeyId: `j${i}`,
    name: `Journey ${i}`,
    totalEntries: 1000 * i,
    conversionRate: i === 0 ? null : 100 / (i + 2),
    ...extra,
  });
  const cases = [
    {
      name: 'rows with "and N more"',
      input: { rows: [row(1), row(0, { totalEntries: 1 })], more: 3 },
      want: [
        'Journeys',
        '========',
        '• Journey 1 `j1` — 1,000 entries, conversion 33.3%',
        '• Journey 0 `j0` — 1 entry, conversion n/a',
        'and 3 more — add words to narrow the list: `/journey list welcome`',
        '',
      ].join('\n'),
    },
    {
      name: 'no more',
      input: { rows: [row(2, { name: 'A & <B>' })], more: 0 },
      want: ['Journeys', '========', '• A & <B> `j2` — 2,000 entries, conversion 25.0%', ''].join('\n'),
    },
    { name: 'nothing found', input: { rows: [], more: 0 }, want: 'No journeys found. Try `/journey list` without words.\n' },
  ];
  it.each(cases)('$name', ({ input, want }) => expect(renderMessageAsText(checked(buildListMessage(input.rows, input.more)))).toBe(want));

  it('counts rows it cannot fit into "more" rather than dropping them', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => row(i, { name: `Journey ${i} `.padEnd(200, 'n') }));
    const message = checked(buildListMessage(rows, 5));
    const shown = renderMessageAsText(message).match(/^• /gm)?.length ?? 0;
    expect(shown).toBeLessThan(2000);
    expect(renderMessageAsText(message)).toContain(`and ${(2000 - shown + 5).toLocaleString('en-US')} more`);
  });
});

describe('buildErrorMessage / buildNoticeMessage', () => {
  const cases = [
    { name: 'error', input: buildErrorMessage('No journey matches "welcom". Did you mean `welcome`?'), want: ':warning: No journey matches "welcom". Did you mean `welcome`?\n' },
    { name: 'notice', input: buildNoticeMessage('Nothing to export: 0 converted users.'), want: 'Nothing to export: 0 converted users.\n' },
  ];
  it.each(cases)('$name', ({ input, want }) => {
    expect(renderMessageAsText(checked(input))).toBe(want);
    expect(input.thread).toEqual([]);
  });
});

describe('assertWithinSlackLimits', () => {
  const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
  const message = (blocks: KnownBlock[], text = 'fallback'): SlackMessage => ({ text, blocks, thread: [] });
  const button = (actionId: string, text = 'Go') => ({ type: 'button' as const, text: { type: 'plain_text' as const, text }, action_id: actionId, value: 'v' });
  const cases = [
    { name: '51 blocks', input: message(Array.from({ length: 51 }, () => section('x'))), want: /51 blocks/ },
    { name: 'section text over 3000', input: message([section('x'.repeat(3001))]), want: /3001 characters/ },
    { name: 'empty text', input: message([section('')]), want: /is empty/ },
    {
      name: '11 fields',
      input: message([{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn' as const, text: 'f' })) }]),
      want: /11 fields/,
    },
    { name: 'long header', input: message([{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }]), want: /header has 151/ },
    { name: 'long button text', input: message([{ type: 'actions', elements: [button('a', 'b'.repeat(76))] }]), want: /button 0 text has 76/ },
    { name: 'repeated action id', input: message([{ type: 'actions', elements: [button('a'), button('a')] }]), want: /repeats an action_id/ },
    {
      name: 'a thread message over the limit',
      input: { ...message([section('ok')]), thread: [message(Array.from({ length: 60 }, () => section('x')))] },
      want: /thread\[0\]: has 60 blocks/,
    },
  ];
  it.each(cases)('rejects $name', ({ input, want }) => expect(() => assertWithinSlackLimits(input)).toThrow(want));

  it('accepts a message within every limit', () => {
    expect(() => assertWithinSlackLimits(message([section('x'.repeat(3000))]))).not.toThrow();
  });
});
