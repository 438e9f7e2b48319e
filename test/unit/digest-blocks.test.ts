// The digest post: headline numbers with their change, chart, flags, lateness, step tables in the thread, Slack's limits.
import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { buildDigestMessage, formatCountChange, formatRateChange, type DigestChart, type DigestOrigin } from '../../reports/blocks/digest-blocks.js';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import { buildStepsMessage } from '../../reports/blocks/steps-blocks.js';
import { countChange, rateChange, type Digest, type DigestJourney } from '../../reports/digest.js';
import { computeFlags, DEFAULT_THRESHOLDS, resolveThresholds } from '../../reports/flags.js';
import type { JourneyInfo, JourneyReport, StepReport } from '../../reports/report-types.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';
import { workedJourney, workedReport } from '../support/worked-example.js';

const PERIOD = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-08T00:00:00Z') };
const PREVIOUS = { from: new Date('2026-10-25T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };

function item(report: JourneyReport, previous: JourneyReport, journey: JourneyInfo = workedJourney()): DigestJourney {
  const thresholds = resolveThresholds(journey.thresholds);
  return { journey, report, previous, thresholds, flags: computeFlags(report, journey, thresholds) };
}

function digestOf(journeys: DigestJourney[], scope: Digest['scope'] = { kind: 'journey', journeyId: 'welcome' }): Digest {
  return {
    tz: 'UTC',
    periodDays: 7,
    period: PERIOD,
    previousPeriod: PREVIOUS,
    periodLabel: '1 Nov 2026 – 7 Nov 2026 (UTC)',
    previousLabel: '25 Oct 2026 – 31 Oct 2026 (UTC)',
    scope,
    journeys,
  };
}

const scheduled: DigestOrigin = { kind: 'scheduled', subscriptionId: 3, schedule: 'daily 09:00', scheduledFor: new Date('2026-11-08T09:00:00Z'), late: false };
const urlChart: DigestChart = { image: { kind: 'url', url: 'https://quickchart.io/chart?c=x' }, altText: 'Bar chart of entry users per step', title: 'Welcome series: entry users per step' };

function build(digest: Digest, options: { charts?: Map<string, DigestChart>; origin?: DigestOrigin } = {}) {
  return buildDigestMessage({
    digest,
    charts: options.charts ?? new Map([['welcome', urlChart]]),
    origin: options.origin ?? scheduled,
    formatTime: (at) => `${at.toISOString()} (UTC)`,
    campaignReportUrl: null,
  });
}

function fieldTexts(blocks: KnownBlock[]): string[] {
  return blocks.flatMap((b) => (b.type === 'section' ? (b.fields ?? []).map((f) => f.text) : []));
}

// The worked example all time (this period) against its 1 November report (the period before).
const worked = () => item(workedReport('all_time'), workedReport('period_2026-11-01'));

describe('the digest post', () => {
  it('states each headline number with its change against the previous period', () => {
    const message = build(digestOf([worked()]));
    expect(fieldTexts(message.blocks)).toEqual([
      '*Entries*\n11 (+2 from 9, +22.2%)', // 11 entries against 9 on 1 November
      '*Entry users*\n9 (+1 from 8, +12.5%)',
      '*Messages sent*\n4 (+2 from 2, +100.0%)',
      '*Conversion rate*\n66.7% (6 of 9 users), +16.7 pts from 50.0%', // 6/9 against 4/8
      '*Converted users*\n6 (+2 from 4, +50.0%)',
      '*Exits*\n5 (same as before)',
    ]);
  });

  it('says which period and time zone it covers, what it is compared with, and which digest it is', () => {
    const text = renderMessageAsText(build(digestOf([worked()])));
    expect(text).toContain('Journey digest: Welcome series');
    expect(text).toContain('Last 7 full days: 1 Nov 2026 – 7 Nov 2026 (UTC) · compared with 25 Oct 2026 – 31 Oct 2026 (UTC) · time zone UTC');
    expect(text).toContain('Digest #3 · daily 09:00 · remove with `/journey digest remove 3`');
    expect(text).not.toContain('Late');
  });

  it('lists the flags, each naming its step and figures', () => {
    const text = renderMessageAsText({ ...build(digestOf([worked()])), thread: [] });
    expect(text).toContain('Flags (2)');
    expect(text).toContain('⚠️ Welcome push: 33.3% of sends failed (1 failed, 2 sent; threshold 10%)');
    expect(text).toContain('⚠️ Welcome email → Reminder SMS: 75.0% drop (4 → 1 users; threshold 40%)');
  });

  it('says there are no flags, and against which thresholds, when none trips', () => {
    const calm = item(workedReport('all_time'), workedReport('period_2026-11-01'), { ...workedJourney(), thresholds: { drop: 80, failure: 50 } });
    const text = renderMessageAsText(build(digestOf([calm])));
    expect(text).toContain('No flags. Thresholds (set for this journey or digest): drop 80%, failure 50%');
  });

  it('shows the chart as an image: a URL, or a file uploaded to Slack; or in words when there is none', () => {
    const byUrl = build(digestOf([worked()])).blocks.find((b) => b.type === 'image');
    expect(byUrl).toEqual({
      type: 'image',
      image_url: 'https://quickchart.io/chart?c=x',
      alt_text: 'Bar chart of entry users per step',
      title: { type: 'plain_text', text: 'Welcome series: entry users per step', emoji: true },
    });
    const file = build(digestOf([worked()]), { charts: new Map([['welcome', { ...urlChart, image: { kind: 'file', fileId: 'F123' } }]]) });
    expect(file.blocks.find((b) => b.type === 'image')).toMatchObject({ slack_file: { id: 'F123' } });
    const none = build(digestOf([worked()]), { charts: new Map([['welcome', { ...urlChart, image: { kind: 'none', reason: 'too large' } }]]) });
    expect(none.blocks.some((b) => b.type === 'image')).toBe(false);
    expect(renderMessageAsText(none)).toContain('Chart not shown: too large. In words: Bar chart of entry users per step');
  });

  it('marks a late run with the time it was due', () => {
    const text = renderMessageAsText(build(digestOf([worked()]), { origin: { ...scheduled, late: true } }));
    expect(text).toContain('Late: this digest was due 2026-11-08T09:00:00.000Z (UTC) and is posted late');
  });

  it('names who asked for a digest posted with `digest now`', () => {
    expect(renderMessageAsText(build(digestOf([worked()]), { origin: { kind: 'now', userId: 'U1' } }))).toContain(
      'Asked for by <@U1> with `/journey digest now`',
    );
  });

  it('puts the step table of each journey into the thread', () => {
    const digestItem = worked();
    const message = build(digestOf([digestItem]));
    const steps = buildStepsMessage({
      report: digestItem.report,
      journey: digestItem.journey,
      periodLabel: '1 Nov 2026 – 7 Nov 2026 (UTC)',
      flags: digestItem.flags,
      campaignReportUrl: null,
      context: { from: PERIOD.from, to: PERIOD.to, tz: 'UTC' },
    });
    expect(message.thread).toEqual([{ text: steps.text, blocks: steps.blocks }]);
    const thread = renderMessageAsText({ ...message.thread[0]!, thread: [] });
    expect(thread).toContain('Welcome series — steps');
    expect(thread).toContain('1. Welcome push · Push · `s1`');
    expect(renderMessageAsText({ ...message, thread: [] })).toContain('step tables of every journey are in this post’s thread');
  });

  it('stays within Slack limits for the worked example', () => {
    assertWithinSlackLimits(build(digestOf([worked()])));
  });

  it('splits an all-journeys digest over the post and its thread, every journey once, within Slack limits', () => {
    const journeys = Array.from({ length: 15 }, (_, j) => bigJourney(`j${j}`, 30));
    const charts = new Map(journeys.map((x) => [x.journey.journeyId, urlChart]));
    const message = build(digestOf(journeys, { kind: 'all' }), { charts });
    assertWithinSlackLimits(message);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(renderMessageAsText({ ...message, thread: [] })).toMatch(/Part 1 of \d+ · continued in thread/);
    const all = [message, ...message.thread].flatMap((p) => p.blocks);
    for (const x of journeys) {
      // the journey's headline section, once, and its steps header in the thread
      expect(all.filter((b) => b.type === 'section' && b.text?.text.startsWith(`*${x.journey.name}*`))).toHaveLength(1);
      expect(all.filter((b) => b.type === 'header' && b.text.text === `${x.journey.name} — steps`)).toHaveLength(1);
    }
  });

  it('says so when the journey is gone, or there are no journeys yet', () => {
    expect(renderMessageAsText(build(digestOf([], { kind: 'journey', journeyId: 'gone' })))).toContain('The journey `gone` no longer exists');
    expect(renderMessageAsText(build(digestOf([], { kind: 'all' })))).toContain('There are no journeys yet');
  });
});

describe('changes', () => {
  it.each([
    { current: 0, previous: 0, want: '0 (same as before)' },
    { current: 5, previous: 0, want: '5 (+5 from 0)' },
    { current: 3, previous: 8, want: '3 (-5 from 8, -62.5%)' },
    { current: 1234, previous: 1000, want: '1,234 (+234 from 1,000, +23.4%)' },
  ])('$current against $previous → $want', ({ current, previous, want }) => {
    expect(formatCountChange(countChange(current, previous))).toBe(want);
  });

  it.each([
    { current: 50, previous: 40, want: '50.0% (5 of 10 users), +10.0 pts from 40.0%' },
    { current: 50, previous: 50, want: '50.0% (5 of 10 users), same as before' },
    { current: 50, previous: null, want: '50.0% (5 of 10 users), before: n/a' },
    { current: null, previous: 20, want: 'n/a (no users entered)' },
  ])('rate $current against $previous → $want', ({ current, previous, want }) => {
    expect(formatRateChange(rateChange(current, previous), 5, 10)).toBe(want);
  });
});

function bigJourney(id: string, stepCount: number): DigestJourney {
  const steps: StepReport[] = Array.from({ length: stepCount }, (_, i) => ({
    step_id: `s${i}`,
    name: `Step ${i} with a rather long name to fill the text`,
    kind: 'push',
    entry_count: 1000,
    entry_users: 1000 - i * 30,
    sent: 1000,
    failed: 300,
    shown: 0,
    clicked: 0,
    platforms: {},
    outcomes: {},
    exits: 10,
  }));
  const report: JourneyReport = {
    journey: { journey_id: id, name: `Journey ${id}` },
    period: { from: PERIOD.from.toISOString(), to: PERIOD.to.toISOString() },
    overview: { ...workedReport('all_time').overview, total_entries: 5000, entry_users: 4000, converted_users: 4, conversion_rate: 0.1 },
    steps,
  };
  const journey: JourneyInfo = {
    ...workedJourney(),
    journeyId: id,
    name: `Journey ${id}`,
    steps: steps.map((s, i) => ({ stepId: s.step_id, name: s.name, kind: s.kind, campaignId: null, next: i + 1 < stepCount ? [`s${i + 1}`] : [] })),
  };
  const digestItem = item(report, report, journey);
  // every step trips failure and click rate, most trip drop, and the journey trips conversion
  expect(digestItem.flags.length).toBeGreaterThan(stepCount * 2);
  expect(digestItem.thresholds).toEqual(DEFAULT_THRESHOLDS);
  return digestItem;
}
