// The /journey help answer: every subcommand of SLACK.md with an example.
import { escapeMrkdwn } from '../format.js';
import { contextBlock, dividerBlock, headerBlock, sectionBlock, singleMessage, type SlackMessage } from './slack-message.js';

interface HelpEntry {
  usage: string;
  what: string;
  examples: string[];
}

const COMMANDS: readonly HelpEntry[] = [
  { usage: '/journey help', what: 'This help (only you see it).', examples: ['/journey help'] },
  {
    usage: '/journey list [words]',
    what: 'Journeys with their entries and conversion rate, most recent activity first (at most 20).',
    examples: ['/journey list', '/journey list welcome'],
  },
  {
    usage: '/journey overview <journey> [period]',
    what: 'Messages sent, entries, conversion rate, converted users, conversion events and exits, with export buttons.',
    examples: ['/journey overview welcome', '/journey overview "Welcome series" 7d'],
  },
  {
    usage: '/journey steps <journey> [period]',
    what: 'Every step in order: entries, users, its messages, drop to the next steps, exits, and flags.',
    examples: ['/journey steps welcome last-month'],
  },
  {
    usage: '/journey step <journey> <step> [period]',
    what: 'One step in full: all metrics, rates, platform breakdown, outcomes, Report link and exports by status.',
    examples: ['/journey step welcome s1', '/journey step welcome "Welcome push" 30d'],
  },
  {
    usage: '/journey export <journey> <export> [step] [status] [period]',
    what:
      'Posts the CSV in a thread. Exports: `converted-users`, `conversion-events`, `entries`, `exits`, ' +
      '`step-users` (with a step and a status: `entered`, `sent`, `failed`, `shown`, `clicked`).',
    examples: ['/journey export welcome converted-users 7d', '/journey export welcome step-users s1 failed'],
  },
  {
    usage: '/journey digest add <journey|all> <schedule> [tz]',
    what:
      'Posts a digest in this channel: headline numbers of the last 7 full days against the 7 before, a step chart, ' +
      'flags, and step tables in the thread. Schedules: `daily 09:00`, `weekdays 08:30`, `weekly mon 09:00`, or a ' +
      '5-field cron in quotes. Time zone: an IANA name (default: yours). Options: `days=14`, thresholds like `drop=30`.',
    examples: ['/journey digest add welcome daily 09:00', '/journey digest add all "0 9 * * 1" Europe/Istanbul'],
  },
  {
    usage: '/journey digest list | remove <id> | now <journey|all>',
    what: "This channel's digests; remove one; post one right away.",
    examples: ['/journey digest list', '/journey digest remove 3', '/journey digest now all'],
  },
  {
    usage: '/journey thresholds <journey> [drop=40 failure=10 ctr=1 conversion=2 | reset]',
    what: 'Shows a journey’s flag thresholds (percentages), or sets them for steps answers and digests.',
    examples: ['/journey thresholds welcome', '/journey thresholds welcome drop=30 failure=5'],
  },
];

export function buildHelpMessage(): SlackMessage {
  // Usages hold <journey> and the like, which Slack would read as links unless escaped.
  const commandBlocks = COMMANDS.map((c) =>
    sectionBlock(
      escapeMrkdwn(`\`${c.usage}\`\n${c.what}\n${c.examples.map((e) => `• \`${e}\``).join('\n')}`),
    ),
  );
  return singleMessage('How to use /journey', [
    headerBlock('/journey — journey analytics'),
    ...commandBlocks,
    dividerBlock(),
    contextBlock(
      escapeMrkdwn('`<journey>`: the journey id or name (any case; a unique prefix is enough; quotes for names with spaces).'),
      '`[period]`: `today`, `yesterday`, `7d`, `30d`, `this-month`, `last-month` or `2026-11-01..2026-11-07` ' +
        '(inclusive), in your time zone. No period: all time.',
    ),
  ]);
}
