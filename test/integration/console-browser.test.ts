// The local console in a real headless browser (Debian's chromium via playwright-core): typing commands,
// clicking buttons, downloading an export, keyboard only, narrow screens, and no request leaving the machine.
// Callbacks given to page.evaluate run in the page, so this file also knows the browser's types.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importEvents, readLines } from '../../db/import/import-events.js';
import type { RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startLocalServer } from '../../src/local-server.js';
import { createLogger } from '../../src/logger.js';
import { eventLines, openTestDb, type TestDb } from '../support/test-db.js';

const CHROMIUM = '/usr/bin/chromium';
const fixtures = fileURLToPath(new URL('../../../shared/fixtures/worked-examples/', import.meta.url));
const screenshots = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
// CI installs chromium (.ci/run); a developer machine without it skips this file with the reason below.
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

let db: TestDb;
let app: RunningApp;
let browser: Browser;
let page: Page;
let origin: string;
const outside: string[] = [];

async function send(text: string): Promise<void> {
  const before = await page.locator('article.message').count();
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
  await page.waitForFunction((n) => document.querySelectorAll('article.message').length > n + 1, before);
}

async function shot(name: string): Promise<void> {
  if (!process.env.UPDATE_SCREENSHOTS) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: path.join(screenshots, name), fullPage: false });
}

describe.skipIf(!hasBrowser)('local console in a browser', () => {
  beforeAll(async () => {
    db = await openTestDb();
    await importEvents(db.db, readLines(path.join(fixtures, 'events.ndjson')), { source: 'fixture' });
    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'error', DEFAULT_TZ: 'UTC' });
    app = await startLocalServer({ config, db: db.db, now: () => new Date('2026-11-08T12:00:00Z'), log: createLogger('error', () => {}) });
    origin = `http://127.0.0.1:${app.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1200, height: 900 }, acceptDownloads: true, timezoneId: 'UTC' });
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) outside.push(r.url());
    });
    await page.goto(`${origin}/`);
    await page.waitForSelector('#composer-input');
  });

  it('shows the worked example overview as Slack would', async () => {
    await send('/journey overview welcome');
    const answer = page.locator('article.message').last();
    // 6 converted of 9 entry users; 11 entries; 8 conversion events; 5 exits
    await expect.poll(() => answer.innerText()).toContain('66.7% (6 of 9 users)');
    const text = await answer.innerText();
    expect(text).toContain('Total Entries');
    expect(text).toContain('11');
    expect(await answer.getByRole('button', { name: 'Export converted users' }).count()).toBe(1);
    await shot('console-overview.png');
  });

  it('shows steps with flags, and the Steps button answers the same', async () => {
    await send('/journey steps welcome');
    const answer = page.locator('article.message').last();
    expect(await answer.innerText()).toContain('⚠');
    expect(await answer.innerText()).toMatch(/75\.0% drop/);
    await shot('console-steps.png');
    await send('/journey overview welcome');
    await page.locator('article.message').last().getByRole('button', { name: 'Steps' }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('article.message')].at(-1)?.textContent?.includes('steps'));
  });

  it('exports into the thread of the message with the button, and the file downloads as the exact CSV', async () => {
    await send('/journey overview welcome');
    // Pin the message by its ts: the page re-renders when the thread reply arrives.
    const ts = await page.locator('article.message').last().getAttribute('data-ts');
    const overview = page.locator(`article.message[data-ts="${ts}"]`);
    await overview.getByRole('button', { name: 'Export converted users' }).click();
    const file = overview.locator('.thread .file');
    await file.waitFor();
    expect(await file.innerText()).toContain('welcome-converted-users-all-time.csv');
    const [download] = await Promise.all([page.waitForEvent('download'), file.getByRole('link', { name: 'Download' }).click()]);
    const saved = await download.path();
    expect(readFileSync(saved, 'utf8')).toBe(readFileSync(path.join(fixtures, 'expected-converted-users.csv'), 'utf8'));
  });

  it('answers errors only to the asker', async () => {
    await send('/journey overview wellcome');
    const answer = page.locator('article.message').last();
    expect(await answer.innerText()).toContain('Only visible to you');
    expect(await answer.innerText()).toContain('welcome');
  });

  it('completes subcommands and journey names with the keyboard alone', async () => {
    // Typed at once on a new page, as in a CI run beside other suites where the page was still loading: the keys went
    // in front of "/journey " then, and nothing was suggested (see also the test after this one).
    await page.focus('#composer-input');
    await page.keyboard.type('ov');
    expect(await page.inputValue('#composer-input')).toBe('/journey ov');
    await page.waitForSelector('#suggestions li');
    await page.keyboard.press('Tab');
    expect(await page.inputValue('#composer-input')).toBe('/journey overview ');
    await page.keyboard.type('wel');
    await page.waitForSelector('#suggestions li');
    await page.keyboard.press('Tab');
    expect(await page.inputValue('#composer-input')).toBe('/journey overview welcome ');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.innerText.includes('66.7% (6 of 9 users)'));
    // Tab reaches the answer's buttons; Enter presses one.
    const steps = page.locator('article.message').last().getByRole('button', { name: 'Steps' });
    for (let i = 0; i < 30 && !(await steps.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Shift+Tab');
    expect(await steps.evaluate((b) => b === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('article.message')].at(-1)?.textContent?.includes('Welcome series — steps'));
  });

  it('suggests for what was typed before the completions arrived', async () => {
    // A page whose completions answer late, as on a busy machine: the keys come first.
    const late = await browser.newPage({ viewport: { width: 1200, height: 900 }, timezoneId: 'UTC' });
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (release = resolve));
    await late.route('**/console/api/completions', async (route) => {
      await arrived;
      await route.continue();
    });
    try {
      await late.goto(`${origin}/`);
      await late.waitForSelector('#composer-input');
      await late.focus('#composer-input');
      await late.keyboard.type('ov');
      // after "/journey ", not in front of it
      expect(await late.inputValue('#composer-input')).toBe('/journey ov');
      expect(await late.isHidden('#suggestions')).toBe(true);
      release();
      await late.waitForSelector('#suggestions li');
      expect(await late.locator('#suggestions li').allInnerTexts()).toEqual(['overview']);
    } finally {
      release();
      await late.close();
    }
  });

  it('shows the raw Block Kit JSON behind the Slack preview toggle', async () => {
    await send('/journey overview welcome');
    const raw = page.locator('article.message').last().locator('.raw pre');
    expect(await raw.isVisible()).toBe(false);
    await page.check('#raw-toggle');
    expect(await raw.isVisible()).toBe(true);
    const json = JSON.parse(await raw.innerText()) as { blocks: Array<{ type: string }> };
    expect(json.blocks[0]?.type).toBe('header');
  });

  it('is readable at 360 px: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    await send('/journey steps welcome');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot('console-narrow.png');
  });

  it('posts a digest on demand, with its chart image drawn locally and loaded', async () => {
    // The clock stands on 8 November, so the digest's last 7 full days are 1–7 November of the worked example.
    await send('/journey digest now welcome');
    const img = page.locator('article.message img').last();
    await img.waitFor();
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0), { timeout: 20_000 }).toBe(true);
    expect(await img.getAttribute('alt')).toBeTruthy();
    expect(await page.locator('article.message').filter({ hasText: 'Welcome series' }).count()).toBeGreaterThan(0);
    expect(await page.locator('body').innerText()).not.toMatch(/:white_?check_?mark:/);
    await shot('console-digest.png');
  });

  it('takes &, < and > as typed (Slack escapes them in what it sends; the console sends them as Slack would)', async () => {
    // "&amp;" typed is not "&": the name holds both.
    const journey = { type: 'journey', journey_id: 'tips', name: 'R&amp;D & <tricks>', conversion_event: null, attribution_window_hours: 24, reentry: true, steps: [] };
    await importEvents(db.db, eventLines([journey]), { source: 'console test' });
    await send('/journey overview "R&amp;D & <tricks>"');
    const answer = page.locator('article.message').last();
    await expect.poll(() => answer.innerText()).toContain('R&amp;D & <tricks>');
    expect(await answer.innerText()).toContain('Total Entries');
  });

  it('made no request outside the app', () => {
    expect(outside).toEqual([]);
  });
});
