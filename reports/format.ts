// Turns report numbers, rates and periods into the strings people read in Slack and the CLI.
import { DateTime, IANAZone } from 'luxon';

// en-US fixed so output does not depend on the host's locale (tests and CLI previews stay stable).
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
// signDisplay 'negative' keeps a tiny negative (e.g. a -0.01 % drop) from reading "-0.0%".
const ONE_DECIMAL = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
  signDisplay: 'negative',
});
const THRESHOLD = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export const NOT_AVAILABLE = 'n/a';

/** A count with thousands separators: 12345 → "12,345". */
export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** A rate given as a fraction (0.5 → "50.0%"); null (zero denominator) → "n/a". */
export function formatRate(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return NOT_AVAILABLE;
  return formatPercent(rate * 100);
}

/** A rate already multiplied by 100, like the report's conversion_rate (66.666… → "66.7%"); null → "n/a". */
export function formatPercent(percent: number | null): string {
  if (percent === null || !Number.isFinite(percent)) return NOT_AVAILABLE;
  return `${ONE_DECIMAL.format(percent)}%`;
}

/** "66.7% (6 of 9 users)": the rate with the counts it comes from; "n/a (0 of 0 users)" when whole is 0. */
export function formatPercentOf(part: number, whole: number, noun?: string): string {
  const rate = whole === 0 ? null : part / whole;
  return `${formatRate(rate)} (${formatPartOf(part, whole, noun)})`;
}

/** "6 of 9 users" (noun optional). */
export function formatPartOf(part: number, whole: number, noun?: string): string {
  return `${formatCount(part)} of ${formatCount(whole)}${noun ? ` ${noun}` : ''}`;
}

/** A threshold as configured: whole numbers stay whole ("40%"), others keep up to two decimals ("2.5%"). */
export function formatThreshold(percent: number): string {
  return `${THRESHOLD.format(percent)}%`;
}

/**
 * A percentage compared against a threshold. One decimal usually; more when one decimal would read as the
 * threshold itself (40.04 % flagged against 40 % must not show "40.0%").
 */
export function formatPercentNear(percent: number, threshold: number): string {
  for (const digits of [1, 2, 3, 4]) {
    const text = percent.toFixed(digits);
    if (percent === threshold || Number(text) !== threshold) return `${trimNegativeZero(text)}%`;
  }
  return `${trimNegativeZero(percent.toFixed(4))}%`;
}

function trimNegativeZero(text: string): string {
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters, for names people typed. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The text escapeMrkdwn escaped, as it was typed (Slack also sends a command's text escaped this way). */
export function unescapeMrkdwn(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** "*A*", "*A*, *B*", "*A*, *B*, *C*, +2 more": bold, escaped names, capped so a wide branch stays one line. */
export function formatNameList(names: readonly string[], max = 3): string {
  const shown = names.slice(0, max).map((n) => `*${escapeMrkdwn(n)}*`);
  const more = names.length > shown.length ? `, +${formatCount(names.length - shown.length)} more` : '';
  return `${shown.join(', ')}${more}`;
}

/** Inline code for an id; a backtick inside would end the code span, so it becomes a quote. */
export function formatCode(id: string): string {
  return `\`${escapeMrkdwn(id).replace(/`/g, "'")}\``;
}

/** Shortens text to at most max characters (counting code points, so emoji are not cut in half). */
export function clipText(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * The period a report covers, in the asker's zone: "all time", "1 Nov 2026 – 7 Nov 2026 (Europe/Istanbul)".
 * `to` is exclusive, so whole-day periods show their last included day; periods that do not start and end at
 * local midnight show times instead.
 */
export function formatPeriodLabel(period: { from: Date | null; to: Date | null }, tz: string): string {
  if (period.from === null && period.to === null) return 'all time';
  if (!IANAZone.isValidZone(tz)) throw new RangeError(`Unknown time zone "${tz}"`);
  const from = period.from ? DateTime.fromJSDate(period.from, { zone: tz }).setLocale('en-US') : null;
  const to = period.to ? DateTime.fromJSDate(period.to, { zone: tz }).setLocale('en-US') : null;
  const zone = ` (${tz})`;
  const wholeDays = (from === null || isMidnight(from)) && (to === null || isMidnight(to));
  if (wholeDays) {
    const first = from?.toFormat(DAY);
    const last = to?.minus({ milliseconds: 1 }).toFormat(DAY);
    if (first !== undefined && last !== undefined) {
      return first === last ? `${first}${zone}` : `${first} – ${last}${zone}`;
    }
    return first !== undefined ? `since ${first}${zone}` : `until ${last ?? ''}${zone}`;
  }
  const start = from?.toFormat(DAY_TIME);
  const end = to?.toFormat(DAY_TIME);
  if (start !== undefined && end !== undefined) return `${start} – ${end}${zone}`;
  return start !== undefined ? `since ${start}${zone}` : `before ${end ?? ''}${zone}`;
}

const DAY = 'd LLL yyyy';
const DAY_TIME = 'd LLL yyyy HH:mm';

function isMidnight(dt: DateTime): boolean {
  return dt.hour === 0 && dt.minute === 0 && dt.second === 0 && dt.millisecond === 0;
}
