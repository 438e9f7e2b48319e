// The overview, steps and step answers: the worked example as people see it, buttons, and Slack's limits.
import type { Button, KnownBlock } from '@slack/types';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeActionValue, type ActionContext } from '../../reports/blocks/actions.js';
import { buildOverviewMessage } from '../../reports/blocks/overview-blocks.js';
import { renderMessageAsText } from '../../reports/blocks/render-text.js';
import type { SlackMessage } from '../../reports/blocks/slack-message.js';
import { buildStepMessage } from '../../reports/blocks/step-blocks.js';
import { campaignReportUrl } from '../../reports/blocks/step-parts.js';
import { buildStepsMessage } from '../../reports/blocks/steps-blocks.js';
import { computeFlags, DEFAULT_THRESHOLDS, type Flag } from '../../reports/flags.js';
import type { JourneyInfo, JourneyReport, StepKind, StepReport } from '../../reports/report-types.js';
import { assertWithinSlackLimits } from '../support/slack-limits.js';

// The "all_time" report of shared/fixtures/worked-examples/expected-report.json.
function workedExample(): JourneyReport {
  return {
    journey: { journey_id: 'welcome', name: 'Welcome series' },
    period: { from: null, to: null },
    overview: {
      messages_sent: 4,
      total_entries: 11,
      entry_users: 9,
      converted_users: 6,
      conversion_events: 8,
      conversion_rate: 66.66666666666666, // 6 of 9 users
      total_exits: 5,
      exits_before_first_step: 2,
    },
    steps: [
      {
        step_id: 's1',
        name: 'Welcome push',
        kind: 'push',
        entry_count: 7,
        entry_users: 6,
        sent: 2,
        failed: 1,
        shown: 0,
        clicked: 1,
        platforms: { android: { sent: 1, failed: 0, clicked: 0 }, ios: { sent: 1, failed: 1, clicked: 1 } },
        outcomes: {},
        exits: 2,
      },
      {
        step_id: 's2',
        name: 'Welcome email',
        kind: 'email',
        entry_count: 4,
        entry_users: 4,
        sent: 1,
        failed: 0,
        shown: 2,
        clicked: 0,
        platforms: {},
        outcomes: {},
        exits: 1,
      },
      {
        step_id: 's3',
        name: 'Reminder SMS',
        kind: 'sms',
        entry_count: 1,
        entry_users: 1,
        sent: 1,
        failed: 0,
        shown: 0,
        clicked: 0,
        platforms: {},
        outcomes: {},
        exits: 0,
      },
    ],
  };
}

const WELCOME: JourneyInfo = {
  journeyId: 'welcome',
  name: 'Welcome series',
  conversionEvent: 'purchase',
  attributionWindowHours: 24,
  reentry: true,
  thresholds: null,
  steps: [
    { stepId: 's1', name: 'Welcome push', kind: 'push', campaignId: 'cmp-101', next: ['s2'] },
    { stepId: 's2', name: 'Welcome email', kind: 'email', campaignId: 'cmp-102', next: ['s3'] },
    { stepId: 's3', name: 'Reminder SMS', kind: 'sms', campaignId: null, next: [] },
  ],
};

const ALL_TIME: ActionContext = { from: null, to: null, tz: 'Europe/Istanbul' };
const TEMPLATE = 'https://dash.example.com/campaigns/{campaign_id}/report?journey={journey_id}&step={step_id}';

function buttons(message: SlackMessage): Button[] {
  return [message, ...message.thread].flatMap((part) =>
    part.blocks.flatMap((block: KnownBlock) => {
      if (block.type === 'actions') return block.elements.filter((e): e is Button => e.type === 'button');
      if (block.type === 'section' && block.accessory?.type === 'button') return [block.accessory];
      return [];
    }),
  );
}

const labels = (message: SlackMessage) => buttons(message).map((b) => b.text.text);

function overview(report = workedExample(), journey = WELCOME, context = ALL_TIME): SlackMessage {
  const message = buildOverviewMessage({ report, journey, periodLabel: 'all time', context });
  assertWithinSlackLimits(message);
  return message;
}

function steps(report = workedExample(), journey = WELCOME, options: { flags?: Flag[]; template?: string | null } = {}) {
  const message = buildStepsMessage({
    report,
    journey,
    periodLabel: 'all time',
    flags: options.flags ?? computeFlags(report, journey, DEFAULT_THRESHOLDS),
    campaignReportUrl: options.template === undefined ? TEMPLATE : options.template,
    context: ALL_TIME,
  });
  assertWithinSlackLimits(message);
  return message;
}

function step(stepId: string, report = workedExample(), journey = WELCOME, template: string | null = TEMPLATE) {
  const message = buildStepMessage({
    report,
    journey,
    stepId,
    periodLabel: 'all time',
    flags: computeFlags(report, journey, DEFAULT_THRESHOLDS),
    campaignReportUrl: template,
    context: ALL_TIME,
  });
  assertWithinSlackLimits(message);
  return message;
}

describe('buildOverviewMessage', () => {
  it.each([
    { exits: 0, before: 0, said: 'No exits' },
    { exits: 1, before: 1, said: '1 of the 1 exit left before the first step' },
    { exits: 5, before: 0, said: '0 of the 5 exits left before the first step' },
  ])('says $said for $exits exits', ({ exits, before, said }) => {
    const report = workedExample();
    report.overview.total_exits = exits;
    report.overview.exits_before_first_step = before;
    const lines = renderMessageAsText(overview(report)).split('\n');
    expect(lines[8]).toBe(said);
  });

  it('shows the worked example as the six cards', () => {
    expect(renderMessageAsText(overview())).toBe(
      [
        'Welcome series',
        '==============',
        'Messages Sent: 4',
        'Total Entries: 11',
        'Conversion Rate: 66.7% (6 of 9 users)',
        'Total Converted Users: 6',
        'Total Conversion Events: 8',
        'Total Exits: 5',
        '2 of the 5 exits left before the first step',
        'Period: all time · Journey `welcome`',
        '[Steps] [Export converted users] [Export conversion events]',
        '',
      ].join('\n'),
    );
    expect(overview().text).toBe('Welcome series (all time): 4 messages sent, 11 entries, conversion rate 66.7%, 5 exits');
  });

  const exportCases = [
    { name: 'both metrics > 0', input: { converted_users: 6, conversion_events: 8 }, want: ['Steps', 'Export converted users', 'Export conversion events'] },
    { name: 'no converted users', input: { converted_users: 0, conversion_events: 0 }, want: ['Steps'] },
    // Cannot happen with real data, but each button follows its own metric.
    { name: 'only events', input: { converted_users: 0, conversion_events: 2 }, want: ['Steps', 'Export conversion events'] },
  ];
  it.each(exportCases)('export buttons: $name', ({ input, want }) => {
    const report = workedExample();
    Object.assign(report.overview, input);
    expect(labels(overview(report))).toEqual(want);
  });

  it('without a conversion event says so on the conversion cards and offers no exports', () => {
    const report = workedExample();
    Object.assign(report.overview, { converted_users: null, conversion_events: null, conversion_rate: null });
    const text = renderMessageAsText(overview(report, { ...WELCOME, conversionEvent: null }));
    expect(text).toContain('Conversion Rate: n/a (no conversion event set)');
    expect(text).toContain('Total Converted Users: n/a (no conversion event set)');
    expect(text).toContain('Total Conversion Events: n/a (no conversion event set)');
    expect(text).toContain('no conversion event set, so every exit counts');
    expect(labels(overview(report, { ...WELCOME, conversionEvent: null }))).toEqual(['Steps']);
  });

  it('with nobody entered shows the rate as n/a, not 0 %', () => {
    const report = workedExample();
    Object.assign(report.overview, { entry_users: 0, total_entries: 0, converted_users: 0, conversion_events: 0, conversion_rate: null });
    expect(renderMessageAsText(overview(report))).toContain('Conversion Rate: n/a (no users entered)');
  });

  it('formats large numbers for people', () => {
    const report = workedExample();
    Object.assign(report.overview, { messages_sent: 1234567, total_entries: 23456, entry_users: 20000, converted_users: 1234, conversion_rate: 6.17 });
    const text = renderMessageAsText(overview(report));
    expect(text).toContain('Messages Sent: 1,234,567');
    expect(text).toContain('Conversion Rate: 6.2% (1,234 of 20,000 users)');
  });

  it('buttons carry the journey, period and zone they were built for', () => {
    const week = { from: new Date('2026-10-31T21:00:00.000Z'), to: new Date('2026-11-07T21:00:00.000Z'), tz: 'Europe/Istanbul' };
    const message = overview(workedExample(), WELCOME, week);
    expect(buttons(message).map((b) => [b.action_id, decodeActionValue(b.value)])).toEqual([
      ['journey_steps', { j: 'welcome', from: '2026-10-31T21:00:00.000Z', to: '2026-11-07T21:00:00.000Z', tz: 'Europe/Istanbul' }],
      [
        'journey_export:converted-users',
        { j: 'welcome', from: '2026-10-31T21:00:00.000Z', to: '2026-11-07T21:00:00.000Z', tz: 'Europe/Istanbul', x: 'converted-users' },
      ],
      [
        'journey_export:conversion-events',
        { j: 'welcome', from: '2026-10-31T21:00:00.000Z', to: '2026-11-07T21:00:00.000Z', tz: 'Europe/Istanbul', x: 'conversion-events' },
      ],
    ]);
  });

  it('keeps a 200-character journey name within the header limit', () => {
    const report = workedExample();
    report.journey.name = 'N'.repeat(200);
    const [header] = overview(report).blocks;
    expect(header?.type === 'header' && header.text.text.length).toBe(150);
  });
});

describe('buildStepsMessage', () => {
  it('shows the worked example step by step, with flags inline and Report links', () => {
    expect(renderMessageAsText(steps())).toBe(
      [
        'Welcome series — steps',
        '======================',
        'Period: all time · Journey `welcome` · 3 steps',
        '────────',
        '1. Welcome push · Push · `s1`',
        'Entries: 7 · Entry users: 6',
        'Sent: 2 · Failed: 1 (33.3%) · Clicked: 1 (50.0%)',
        'Android: 1 sent · 0 failed · 0 clicked',
        'iOS: 1 sent · 1 failed · 1 clicked',
        '→ Welcome email: 66.7% continue, 33.3% drop (6 → 4 users)', // 4 of 6 users reached s2
        'Exits here: 2',
        '⚠️ Welcome push: 33.3% of sends failed (1 failed, 2 sent; threshold 10%)',
        '[Report → https://dash.example.com/campaigns/cmp-101/report?journey=welcome&step=s1]',
        '2. Welcome email · Email · `s2`',
        'Entries: 4 · Entry users: 4',
        'Sent: 1 · Failed: 0 (0.0%) · Shown: 2 · Clicked: 0 (0.0%)',
        '→ Reminder SMS: 25.0% continue, 75.0% drop (4 → 1 users)',
        'Exits here: 1',
        '⚠️ Welcome email → Reminder SMS: 75.0% drop (4 → 1 users; threshold 40%)',
        '[Report → https://dash.example.com/campaigns/cmp-102/report?journey=welcome&step=s2]',
        '3. Reminder SMS · SMS · `s3`', // no campaign id: no Report button
        'Entries: 1 · Entry users: 1',
        'Sent: 1 · Failed: 0 (0.0%)',
        'Exits here: 0',
        '',
      ].join('\n'),
    );
  });

  const reportCases = [
    { name: 'template, campaign and sent > 0', input: { template: TEMPLATE, campaignId: 'cmp-101', sent: 2 }, want: ['Report'] },
    { name: 'no template', input: { template: null, campaignId: 'cmp-101', sent: 2 }, want: [] },
    { name: 'no campaign id', input: { template: TEMPLATE, campaignId: null, sent: 2 }, want: [] },
    { name: 'nothing sent', input: { template: TEMPLATE, campaignId: 'cmp-101', sent: 0 }, want: [] },
  ];
  it.each(reportCases)('Report button: $name', ({ input, want }) => {
    const report = workedExample();
    report.steps = report.steps.slice(0, 1).map((s) => ({ ...s, sent: input.sent }));
    const journey: JourneyInfo = { ...WELCOME, steps: [{ ...oneStep(WELCOME, 's1'), campaignId: input.campaignId, next: [] }] };
    expect(labels(steps(report, journey, { template: input.template }))).toEqual(want);
    expect(labels(step('s1', report, journey, input.template)).filter((l) => l === 'Report')).toEqual(want);
  });

  it('puts journey-level flags at the top', () => {
    const flag: Flag = { kind: 'low_conversion', stepId: null, stepName: null, message: 'Conversion rate 1.5% (…)', value: 1.5, threshold: 2 };
    const text = renderMessageAsText(steps(workedExample(), WELCOME, { flags: [flag] }));
    expect(text.split('\n').slice(2, 5)).toEqual(['Period: all time · Journey `welcome` · 3 steps', '⚠️ Conversion rate 1.5% (…)', '────────']);
  });

  it('shows each kind only its own metrics', () => {
    const report = journeyOf(['in_app', 'custom', 'wait', 'condition', 'split'].map((kind, i) => stepReport(i, kind as StepKind)));
    report.steps[1] = { ...(report.steps[1] as StepReport), outcomes: { webhook_failed: 3, webhook_ok: 12 } };
    const text = renderMessageAsText(steps(report, journeyInfoOf(report)));
    expect(text).not.toMatch(/Sent:|Clicked:|Android/);
    expect(text).toContain('Outcomes: webhook_failed 3 · webhook_ok 12');
  });

  it('splits a 60-step journey over the message and its thread, each step exactly once', () => {
    const report = journeyOf(Array.from({ length: 60 }, (_, i) => stepReport(i, 'push')));
    const journey = journeyInfoOf(report);
    const message = steps(report, journey);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(message.thread.length).toBeGreaterThan(0);
    expectEachStepOnce(message, report);
    expect(renderMessageAsText(message)).toContain('Part 1 of 2 · continued in thread');
    expect(message.thread[0]?.blocks[0]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'Journey 60 — steps · Part 2 of 2' }],
    });
  });

  it('stays within limits for any number of steps, names and flags', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 160 }),
        fc.integer({ min: 1, max: 200 }),
        fc.boolean(),
        (count, nameLength, branchy) => {
          const report = journeyOf(
            Array.from({ length: count }, (_, i) => ({ ...stepReport(i, i % 2 ? 'email' : 'push'), name: `${i}<&>`.padEnd(nameLength, 'x') })),
          );
          const journey = journeyInfoOf(report, branchy ? 5 : 1);
          const flags = [
            ...computeFlags(report, journey, { ...DEFAULT_THRESHOLDS, drop: 0, failure: 0, ctr: 100, min_sent: 0 }),
          ];
          const message = steps(report, journey, { flags });
          expectEachStepOnce(message, report);
          const sectionTexts = [message, ...message.thread].flatMap((part) =>
            part.blocks.flatMap((b) => (b.type === 'section' ? [b.text?.text ?? ''] : [])),
          );
          expect(sectionTexts.join(''), 'no section was clipped').not.toContain('…');
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('buildStepMessage', () => {
  it('shows one step in full: metrics, rates, platforms, next, Report and exports', () => {
    expect(renderMessageAsText(step('s1'))).toBe(
      [
        'Welcome push',
        '============',
        'Push step 1 of 3 (`s1`) in Welcome series (`welcome`) · Period: all time',
        '⚠️ Welcome push: 33.3% of sends failed (1 failed, 2 sent; threshold 10%)',
        'Entry count: 7',
        'Entry users: 6',
        'Sent: 2',
        'Failed: 1',
        'Clicked: 1',
        'Exits here: 2',
        'Click rate: 50.0% (1 of 2 sent)',
        'Failure rate: 33.3% (1 of 3 attempts)',
        'Continuation: 66.7% (6 → 4 users)',
        'Drop: 33.3%',
        'Platforms',
        'Android: 1 sent · 0 failed · 0 clicked',
        'iOS: 1 sent · 1 failed · 1 clicked',
        'Next',
        '→ Welcome email: 66.7% continue, 33.3% drop (6 → 4 users)',
        '[Report → https://dash.example.com/campaigns/cmp-101/report?journey=welcome&step=s1] ' +
          '[Export entered users (7)] [Export sent users (2)] [Export failed users (1)] [Export clicked users (1)]',
        '',
      ].join('\n'),
    );
  });

  const exportCases = [
    { name: 'email with shown, no clicks or failures', input: 's2', want: ['Report', 'Export entered users (4)', 'Export sent users (1)', 'Export shown users (2)'] },
    { name: 'sms without campaign: no Report', input: 's3', want: ['Export entered users (1)', 'Export sent users (1)'] },
  ];
  it.each(exportCases)('export buttons: $name', ({ input, want }) => expect(labels(step(input))).toEqual(want));

  it('export buttons carry the step and status', () => {
    const failed = buttons(step('s1')).find((b) => b.text.text.startsWith('Export failed'));
    expect(failed?.action_id).toBe('journey_export:step-users:failed');
    expect(decodeActionValue(failed?.value)).toEqual({ j: 'welcome', from: null, to: null, tz: 'Europe/Istanbul', x: 'step-users', s: 's1', st: 'failed' });
  });

  it('offers no exports for a step nobody reached, and rates read n/a', () => {
    const report = workedExample();
    report.steps[2] = { ...(report.steps[2] as StepReport), entry_count: 0, entry_users: 0, sent: 0 };
    report.steps[1] = { ...(report.steps[1] as StepReport), entry_count: 0, entry_users: 0, sent: 0, shown: 0 };
    expect(labels(step('s3', report))).toEqual([]);
    const text = renderMessageAsText(step('s2', report));
    expect(text).toContain('Click rate: n/a (0 of 0 sent)');
    expect(text).toContain('Failure rate: n/a (0 of 0 attempts)');
    expect(text).toContain('Continuation: n/a (0 → 0 users)');
    expect(text).toContain('Drop: n/a');
    expect(text).not.toMatch(/NaN|Infinity/);
  });

  it('lists every outcome of a custom step, in the thread when there are very many', () => {
    const outcomes = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`outcome_${String(i).padStart(4, '0')}`, i + 1]));
    const report = journeyOf([{ ...stepReport(0, 'custom'), sent: 0, failed: 0, clicked: 0, outcomes }]);
    const message = step('st-000', report, journeyInfoOf(report));
    const text = renderMessageAsText(message);
    expect(message.thread.length).toBeGreaterThan(0);
    for (const name of ['outcome_0000: 1', 'outcome_4500: 4,501', 'outcome_7999: 8,000']) expect(text).toContain(name);
    expect(text.match(/^outcome_\d+: /gm)?.length).toBe(8000);
    // The buttons stay in the first message, above the list.
    expect(labels({ ...message, thread: [] })).toEqual(['Export entered users (1,005)']);
  });

  it('answers with an error for a step the journey does not have', () => {
    const message = step('s9');
    expect(renderMessageAsText(message)).toBe(':warning: Journey `welcome` has no step `s9`.\n');
  });
});

describe('campaignReportUrl', () => {
  const ids = { campaignId: 'cmp 1&2', journeyId: 'welcome', stepId: 's/1' };
  const cases = [
    { input: { template: TEMPLATE, ids }, want: 'https://dash.example.com/campaigns/cmp%201%262/report?journey=welcome&step=s%2F1' },
    { input: { template: 'https://x.test/{campaign_id}/{campaign_id}', ids }, want: 'https://x.test/cmp%201%262/cmp%201%262' },
    { input: { template: 'https://x.test/{other}', ids }, want: 'https://x.test/{other}' },
    { input: { template: null, ids }, want: null },
    { input: { template: '', ids }, want: null },
    { input: { template: TEMPLATE, ids: { ...ids, campaignId: null } }, want: null },
    { input: { template: `https://x.test/${'a'.repeat(3000)}`, ids }, want: null }, // longer than a button URL may be
  ];
  it.each(cases)('$input.template → $want', ({ input, want }) => expect(campaignReportUrl(input.template, input.ids)).toBe(want));
});

function oneStep(journey: JourneyInfo, stepId: string): JourneyInfo['steps'][number] {
  const found = journey.steps.find((s) => s.stepId === stepId);
  if (!found) throw new Error(`no step ${stepId}`);
  return found;
}

function stepReport(i: number, kind: StepKind): StepReport {
  const users = 1000 - i * 5;
  return {
    step_id: `st-${String(i).padStart(3, '0')}`,
    name: `Step ${i + 1}`,
    kind,
    entry_count: users + 5,
    entry_users: users,
    sent: users,
    failed: 10,
    shown: 0,
    clicked: 5,
    platforms: { android: { sent: users, failed: 10, clicked: 5 } },
    outcomes: {},
    exits: 5,
  };
}

function journeyOf(stepReports: StepReport[]): JourneyReport {
  return {
    journey: { journey_id: 'big', name: `Journey ${stepReports.length}` },
    period: { from: null, to: null },
    overview: {
      messages_sent: 0,
      total_entries: 1000,
      entry_users: 1000,
      converted_users: 10,
      conversion_events: 12,
      conversion_rate: 1,
      total_exits: 0,
      exits_before_first_step: 0,
    },
    steps: stepReports,
  };
}

/** Each step leads to the next `fanOut` steps; every step is a campaign step. */
function journeyInfoOf(report: JourneyReport, fanOut = 1): JourneyInfo {
  return {
    journeyId: report.journey.journey_id,
    name: report.journey.name,
    conversionEvent: 'purchase',
    attributionWindowHours: 24,
    reentry: true,
    thresholds: null,
    steps: report.steps.map((s, i) => ({
      stepId: s.step_id,
      name: s.name,
      kind: s.kind,
      campaignId: `cmp-${i}`,
      next: report.steps.slice(i + 1, i + 1 + fanOut).map((n) => n.step_id),
    })),
  };
}

/** Every step's heading line (which carries its id) appears once across the message and its thread. */
function expectEachStepOnce(message: SlackMessage, report: JourneyReport): void {
  const texts = [message, ...message.thread].flatMap((part) =>
    part.blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : [])),
  );
  for (const s of report.steps) {
    const count = texts.filter((t) => t.includes(`\`${s.step_id}\``)).length;
    expect(count, s.step_id).toBe(1);
  }
  const parts = 1 + message.thread.length;
  if (parts > 1) {
    message.thread.forEach((part, i) =>
      expect(renderMessageAsText({ ...part, thread: [] })).toContain(`Part ${i + 2} of ${parts}`),
    );
  }
}
