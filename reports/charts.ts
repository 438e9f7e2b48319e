// The digest chart: a Chart.js config (built with quickchart-js) of a journey's step funnel — entry users per step,
// failed sends beside them — with its size, a colour-blind-safe palette, and alt text that says the same in words.
import type { ChartConfiguration } from 'chart.js';
import QuickChartModule from 'quickchart-js';
import { clipText, formatCount, formatRate } from './format.js';
import { continuationCounts, ratio } from './rates.js';
import type { JourneyInfo, JourneyReport } from './report-types.js';

/**
 * Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies: blue for users, vermillion
 * for failures. Text is near-black on a white background so the picture reads in Slack's dark theme too.
 */
export const CHART_COLORS = {
  users: '#0072B2',
  failed: '#D55E00',
  text: '#1A1A1A',
  grid: '#D9D9D9',
  background: '#FFFFFF',
} as const;

/**
 * Font family the local renderer registers (assets/fonts) and sets as Chart.js's default. The config names no family,
 * which keeps QuickChart URLs short; QuickChart then uses its own sans-serif.
 */
export const CHART_FONT_FAMILY = 'DejaVu Sans';

export const CHART_WIDTH = 800;
/** Rendered at twice the size so it stays sharp on high-density screens. */
export const CHART_PIXEL_RATIO = 2;
/** Slack's image_url limit. */
export const MAX_IMAGE_URL_LENGTH = 3000;

// quickchart-js's types describe its CommonJS build; the ESM build Node loads here exports the class itself as default.
const QuickChart = QuickChartModule as unknown as typeof QuickChartModule.default;
type QuickChart = InstanceType<typeof QuickChart>;

export type FunnelChartConfig = ChartConfiguration<'bar', number[], string[]>;

export interface FunnelChart {
  config: FunnelChartConfig;
  /** CSS pixels; the PNG is width × CHART_PIXEL_RATIO wide. */
  width: number;
  height: number;
  altText: string;
  title: string;
}

const LABEL_CHARS = 32;

/** Height grows with the steps so every label stays readable: two grouped bars and a two-line label each. */
export function chartHeight(stepCount: number): number {
  return Math.min(1600, Math.max(260, 130 + 56 * stepCount));
}

export function buildFunnelChart(input: { report: JourneyReport; journey: JourneyInfo; periodLabel: string; labelChars?: number }): FunnelChart {
  const { report, journey, periodLabel } = input;
  const labelChars = input.labelChars ?? LABEL_CHARS;
  const steps = report.steps;
  const labels = steps.map((s, i) => {
    const lines = [clipText(`${i + 1}. ${s.name}`, labelChars)];
    if (s.failed > 0) lines.push(`${formatCount(s.failed)} failed of ${formatCount(s.sent + s.failed)} sends`);
    return lines;
  });
  const title = `${report.journey.name}: entry users per step`;
  const font = (size: number, weight?: 'bold') => (weight ? { size, weight } : { size });
  const config: FunnelChartConfig = {
    type: 'bar',
    data: {
      labels,
      datasets: [
        {
          label: 'Entry users',
          data: steps.map((s) => s.entry_users),
          backgroundColor: CHART_COLORS.users,
          borderColor: CHART_COLORS.users,
          borderWidth: 1,
        },
        {
          label: 'Failed sends',
          data: steps.map((s) => s.failed),
          backgroundColor: CHART_COLORS.failed,
          borderColor: CHART_COLORS.failed,
          borderWidth: 1,
        },
      ],
    },
    options: {
      indexAxis: 'y',
      responsive: false,
      animation: false,
      layout: { padding: { right: 24 } },
      plugins: {
        title: { display: true, text: clipText(title, 80), color: CHART_COLORS.text, font: font(18, 'bold') },
        subtitle: { display: true, text: periodLabel, color: CHART_COLORS.text, font: font(13) },
        legend: { position: 'bottom', labels: { color: CHART_COLORS.text, font: font(13) } },
      },
      scales: {
        x: {
          beginAtZero: true,
          ticks: { precision: 0, color: CHART_COLORS.text, font: font(12) },
          grid: { color: CHART_COLORS.grid },
        },
        y: { ticks: { color: CHART_COLORS.text, font: font(13), autoSkip: false }, grid: { display: false } },
      },
    },
  };
  return { config, width: CHART_WIDTH, height: chartHeight(steps.length), altText: funnelAltText(report, journey, periodLabel), title };
}

/** The chart in words, for screen readers and for clients that show no images (Slack allows 2000 characters). */
export function funnelAltText(report: JourneyReport, journey: JourneyInfo, periodLabel: string): string {
  const steps = report.steps;
  if (steps.length === 0) return clipText(`Bar chart for ${report.journey.name}, ${periodLabel}: the journey has no steps.`, 2000);
  const parts = steps.map((s, i) => {
    const users = `${formatCount(s.entry_users)} ${s.entry_users === 1 ? 'user' : 'users'}`;
    const failed = s.failed > 0 ? `, ${formatCount(s.failed)} failed ${s.failed === 1 ? 'send' : 'sends'} of ${formatCount(s.sent + s.failed)}` : '';
    return `${i + 1}. ${s.name}: ${users}${failed}`;
  });
  let largest: { from: string; drop: number } | null = null;
  for (const s of steps) {
    const counts = continuationCounts(s, report, journey);
    const rate = counts === null ? null : ratio(counts.toUsers, counts.fromUsers);
    if (rate !== null && 1 - rate > 0 && (largest === null || 1 - rate > largest.drop)) largest = { from: s.name, drop: 1 - rate };
  }
  const totalFailed = steps.reduce((n, s) => n + s.failed, 0);
  const summary = [
    largest ? `Largest drop after ${largest.from}: ${formatRate(largest.drop)}.` : 'No drop between steps.',
    totalFailed > 0 ? `${formatCount(totalFailed)} failed ${totalFailed === 1 ? 'send' : 'sends'} in all.` : 'No failed sends.',
  ].join(' ');
  return clipText(
    `Bar chart of entry users per step for ${report.journey.name}, ${periodLabel}. ${parts.join('; ')}. ${summary}`,
    2000,
  );
}

/** A QuickChart instance for the chart (size, pixel ratio, white background, Chart.js 4 as the local renderer uses). */
export function quickChartFor(chart: FunnelChart, baseUrl: string): QuickChart {
  const base = new URL(baseUrl);
  return new QuickChart()
    .setConfig(chart.config)
    .setScheme(base.protocol.replace(':', ''))
    .setHost(base.host)
    .setWidth(chart.width)
    .setHeight(chart.height)
    .setDevicePixelRatio(CHART_PIXEL_RATIO)
    .setBackgroundColor(CHART_COLORS.background)
    .setVersion('4');
}

/**
 * The chart's image URL on a QuickChart host (the public one or a self-hosted one, which may live under a path).
 * Null when it would be longer than Slack accepts for an image (the caller shortens labels or the URL).
 */
export function quickChartUrl(chart: FunnelChart, baseUrl: string): string | null {
  const made = new URL(quickChartFor(chart, baseUrl).getUrl());
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = `${base.protocol}//${base.host}${prefix}${made.pathname}${made.search}`;
  return url.length <= MAX_IMAGE_URL_LENGTH ? url : null;
}
