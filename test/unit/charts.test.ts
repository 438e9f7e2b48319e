// The digest chart: its Chart.js config, alt text, QuickChart URL, and the PNG the local renderer draws.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { renderChartPng } from '../../reports/chart-png.js';
import { buildFunnelChart, CHART_COLORS, CHART_PIXEL_RATIO, CHART_WIDTH, chartHeight, MAX_IMAGE_URL_LENGTH, quickChartUrl } from '../../reports/charts.js';
import type { JourneyInfo, JourneyReport, StepReport } from '../../reports/report-types.js';
import { workedJourney, workedReport } from '../support/worked-example.js';

const PERIOD = '1 Nov 2026 – 7 Nov 2026 (UTC)';

function workedChart() {
  return buildFunnelChart({ report: workedReport('all_time'), journey: workedJourney(), periodLabel: PERIOD });
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function manySteps(count: number, nameLength = 40): { report: JourneyReport; journey: JourneyInfo } {
  const steps: StepReport[] = Array.from({ length: count }, (_, i) => ({
    step_id: `s${i + 1}`,
    name: `Step ${i + 1} ${'x'.repeat(nameLength)}`,
    kind: 'push',
    entry_count: 1000 - i * 50,
    entry_users: 900 - i * 50,
    sent: 800 - i * 40,
    failed: i * 7,
    shown: 0,
    clicked: 10,
    platforms: {},
    outcomes: {},
    exits: 3,
  }));
  const report = workedReport('all_time');
  report.steps = steps;
  const journey = workedJourney();
  journey.steps = steps.map((s, i) => ({ stepId: s.step_id, name: s.name, kind: s.kind, campaignId: null, next: i + 1 < count ? [`s${i + 2}`] : [] }));
  return { report, journey };
}

describe('the funnel chart config', () => {
  it('draws entry users per step beside failed sends, one labelled bar group per step', () => {
    const { config } = workedChart();
    expect(config.type).toBe('bar');
    expect(config.options?.indexAxis).toBe('y');
    // worked example: s1 6 users / 1 failed, s2 4 users, s3 1 user
    expect(config.data.labels).toEqual([['1. Welcome push', '1 failed of 3 sends'], ['2. Welcome email'], ['3. Reminder SMS']]);
    const [users, failed] = config.data.datasets;
    expect(users).toMatchObject({ label: 'Entry users', data: [6, 4, 1], backgroundColor: CHART_COLORS.users });
    expect(failed).toMatchObject({ label: 'Failed sends', data: [1, 0, 0], backgroundColor: CHART_COLORS.failed });
  });

  it('uses the Okabe–Ito blue and vermillion, dark text, whole-number ticks and fonts of at least 12 px', () => {
    const { config } = workedChart();
    expect([CHART_COLORS.users, CHART_COLORS.failed]).toEqual(['#0072B2', '#D55E00']);
    const x = config.options?.scales?.x as { beginAtZero?: boolean; ticks?: { precision?: number; font?: { size?: number } } };
    expect(x.beginAtZero).toBe(true);
    expect(x.ticks?.precision).toBe(0);
    const sizes = JSON.stringify(config).match(/"size":(\d+)/g)!.map((m) => Number(m.split(':')[1]));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(12);
    expect(config.options?.plugins?.title).toMatchObject({ display: true, text: 'Welcome series: entry users per step' });
    expect(config.options?.plugins?.subtitle).toMatchObject({ display: true, text: PERIOD });
  });

  it('says the same in words in its alt text', () => {
    expect(workedChart().altText).toBe(
      `Bar chart of entry users per step for Welcome series, ${PERIOD}. ` +
        '1. Welcome push: 6 users, 1 failed send of 3; 2. Welcome email: 4 users; 3. Reminder SMS: 1 user. ' +
        // 4 → 1 users is the largest drop (75%); 6 → 4 is 33.3%
        'Largest drop after Welcome email: 75.0%. 1 failed send in all.',
    );
  });

  it('grows in height with the steps so labels stay readable, and clips long step names', () => {
    expect(chartHeight(3)).toBe(298);
    expect(chartHeight(40)).toBe(1600);
    const { report, journey } = manySteps(12, 80);
    const chart = buildFunnelChart({ report, journey, periodLabel: PERIOD });
    expect(chart.height).toBe(chartHeight(12));
    for (const label of chart.config.data.labels!) expect(Array.from(label[0]!).length).toBeLessThanOrEqual(32);
    expect(chart.altText.length).toBeLessThanOrEqual(2000);
  });
});

describe('the QuickChart renderer', () => {
  it('is an image URL on the configured host carrying the same config, drawn with Chart.js 4 at twice the size', () => {
    const chart = workedChart();
    const url = new URL(quickChartUrl(chart, 'https://quickchart.io')!);
    expect(url.origin).toBe('https://quickchart.io');
    expect(url.pathname).toBe('/chart');
    expect(url.searchParams.get('v')).toBe('4');
    expect(url.searchParams.get('w')).toBe(String(CHART_WIDTH));
    expect(url.searchParams.get('h')).toBe(String(chart.height));
    expect(url.searchParams.get('devicePixelRatio')).toBe(String(CHART_PIXEL_RATIO));
    // quickchart-js writes the config as a JavaScript object literal (unquoted keys), as QuickChart reads it
    const sent: unknown = runInNewContext(`(${url.searchParams.get('c')})`);
    expect(JSON.parse(JSON.stringify(sent))).toEqual(JSON.parse(JSON.stringify(chart.config)));
  });

  it('works the same on a self-hosted QuickChart, also under a path', () => {
    expect(quickChartUrl(workedChart(), 'http://charts.internal:3400/quickchart/')).toMatch(/^http:\/\/charts\.internal:3400\/quickchart\/chart\?/);
  });

  it('answers null rather than a URL longer than Slack accepts', () => {
    const { report, journey } = manySteps(40, 30);
    const chart = buildFunnelChart({ report, journey, periodLabel: PERIOD });
    expect(quickChartUrl(chart, 'https://quickchart.io')).toBeNull();
    const small = workedChart();
    expect(quickChartUrl(small, 'https://quickchart.io')!.length).toBeLessThanOrEqual(MAX_IMAGE_URL_LENGTH);
  });
});

describe('the local renderer', () => {
  it('draws a PNG of the chart size at twice the pixel density', () => {
    const chart = workedChart();
    const png = renderChartPng(chart);
    expect(pngSize(png)).toEqual({ width: CHART_WIDTH * CHART_PIXEL_RATIO, height: chart.height * CHART_PIXEL_RATIO });
    // a drawn chart with text and bars, not an empty canvas
    expect(png.length).toBeGreaterThan(10_000);
  });

  it('draws tall charts for journeys with many steps', () => {
    const { report, journey } = manySteps(12);
    const chart = buildFunnelChart({ report, journey, periodLabel: PERIOD });
    expect(pngSize(renderChartPng(chart))).toEqual({ width: 1600, height: chartHeight(12) * 2 });
  });
});
