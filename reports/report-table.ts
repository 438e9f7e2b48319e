// Renders a journey report as a plain-text table for the terminal (CLI `report` without --json).
import type { JourneyReport, StepReport } from './report-types.js';

const count = (n: number | null) => (n === null ? 'n/a' : n.toLocaleString('en-US'));
const percent = (n: number | null) => (n === null ? 'n/a' : `${n.toFixed(1)}%`);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function stepDetail(s: StepReport): string {
  const platforms = Object.entries(s.platforms)
    .map(([p, c]) => `${p} ${c.sent}/${c.failed}/${c.clicked}`)
    .join(', ');
  const outcomes = Object.entries(s.outcomes)
    .map(([o, n]) => `${o}=${n}`)
    .join(', ');
  return [platforms && `sent/failed/clicked by platform: ${platforms}`, outcomes && `outcomes: ${outcomes}`]
    .filter(Boolean)
    .join('; ');
}

/** As the Slack overview says it: n/a with the reason when there is no rate. */
function conversionRate(o: JourneyReport['overview']): string {
  if (o.converted_users === null) return 'n/a (no conversion event set)';
  if (o.conversion_rate === null) return 'n/a (no users entered)';
  return `${percent(o.conversion_rate)} (${count(o.converted_users)} of ${count(o.entry_users)} users)`;
}

export function renderReportTable(report: JourneyReport): string {
  const o = report.overview;
  const period =
    report.period.from || report.period.to
      ? `entries from ${report.period.from ?? 'the beginning'} until ${report.period.to ?? 'now'} (UTC, end exclusive)`
      : 'all time';
  const overview = [
    ['Messages Sent', count(o.messages_sent)],
    ['Total Entries', count(o.total_entries)],
    ['Entry Users', count(o.entry_users)],
    ['Conversion Rate', conversionRate(o)],
    ['Total Converted Users', count(o.converted_users)],
    ['Total Conversion Events', count(o.conversion_events)],
    ['Total Exits', count(o.total_exits)],
    ['Exits before first step', count(o.exits_before_first_step)],
  ];
  const steps = table(
    ['Step', 'Kind', 'Entries', 'Users', 'Sent', 'Failed', 'Shown', 'Clicked', 'Exits'],
    report.steps.map((s) => [
      `${s.name} (${s.step_id})`,
      s.kind,
      count(s.entry_count),
      count(s.entry_users),
      count(s.sent),
      count(s.failed),
      count(s.shown),
      count(s.clicked),
      count(s.exits),
    ]),
  );
  const details = report.steps
    .map((s) => [s, stepDetail(s)] as const)
    .filter(([, d]) => d !== '')
    .map(([s, d]) => `  ${s.step_id}: ${d}`);
  return [
    `${report.journey.name} (${report.journey.journey_id}) — ${period}`,
    '',
    ...overview.map(([k, v]) => `${k!.padEnd(24)} ${v}`),
    '',
    steps,
    ...(details.length > 0 ? ['', ...details] : []),
  ].join('\n');
}
