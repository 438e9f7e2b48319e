// The /journey list answer: one line per journey (name, id, entries, conversion rate) and "and N more".
import type { KnownBlock } from '@slack/types';
import { escapeMrkdwn, formatCode, formatCount, formatPercent } from '../format.js';
import { contextBlock, headerBlock, sectionBlock, singleMessage, SLACK_LIMITS, type SlackMessage } from './slack-message.js';

export interface JourneyListRow {
  journeyId: string;
  name: string;
  totalEntries: number;
  /** Percent, as the report's conversion_rate; null when it is n/a. */
  conversionRate: number | null;
}

/** Blocks reserved for the header and the "and N more" line. */
const RESERVED_BLOCKS = 2;

export function buildListMessage(rows: readonly JourneyListRow[], moreCount: number): SlackMessage {
  if (rows.length === 0 && moreCount <= 0) {
    return singleMessage('No journeys found.', [sectionBlock('No journeys found. Try `/journey list` without words.')]);
  }
  const lines = rows.map(
    (r) =>
      `• *${escapeMrkdwn(r.name)}* ${formatCode(r.journeyId)} — ${formatCount(r.totalEntries)} ` +
      `${r.totalEntries === 1 ? 'entry' : 'entries'}, conversion ${formatPercent(r.conversionRate)}`,
  );

  // Lines are packed into sections under the text limit; rows that would not fit are counted in "more".
  const sections: KnownBlock[] = [];
  let current = '';
  let shown = 0;
  for (const line of lines) {
    if (current !== '' && current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      if (sections.length + 1 >= SLACK_LIMITS.blocksPerMessage - RESERVED_BLOCKS) break;
      sections.push(sectionBlock(current));
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
    shown += 1;
  }
  if (current !== '') sections.push(sectionBlock(current));

  const more = moreCount + (rows.length - shown);
  const blocks: KnownBlock[] = [headerBlock('Journeys'), ...sections];
  if (more > 0) blocks.push(contextBlock(`and ${formatCount(more)} more — add words to narrow the list: \`/journey list welcome\``));
  return singleMessage(`Journeys: ${formatCount(shown)}${more > 0 ? ` and ${formatCount(more)} more` : ''}`, blocks);
}
