// The environment is read once, by one schema: a malformed variable stops the app (and the CLI) with a message
// naming it, instead of failing later in a Slack answer.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const refusal = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return null;
};

describe('loadConfig', () => {
  it.each([
    { env: { DEFAULT_TZ: 'Mars/Base' }, said: /DEFAULT_TZ.*must be an IANA time zone/ },
    { env: { CAMPAIGN_REPORT_URL: 'not a url' }, said: /CAMPAIGN_REPORT_URL.*http\(s\) URL template holding \{campaign_id\}/ },
    { env: { CAMPAIGN_REPORT_URL: 'https://dash.example.com/campaigns' }, said: /CAMPAIGN_REPORT_URL.*\{campaign_id\}/ },
    { env: { CAMPAIGN_REPORT_URL: 'javascript:alert({campaign_id})' }, said: /CAMPAIGN_REPORT_URL/ },
  ])('refuses $env, naming the variable', ({ env, said }) => {
    expect(refusal(env)).toMatch(said);
  });

  it('reads a variable set to nothing as unset, numbers too (EXPORT_RATE_LIMIT= was 0: no limit)', () => {
    const config = loadConfig({ EXPORT_RATE_LIMIT: '', PORT: ' ', EXPORT_GZIP_BYTES: '', INGEST_MAX_BYTES: '', DEFAULT_TZ: '' });
    expect(config).toMatchObject({ EXPORT_RATE_LIMIT: 10, PORT: 3000, EXPORT_GZIP_BYTES: 5 * 1024 * 1024, INGEST_MAX_BYTES: 20 * 1024 * 1024, DEFAULT_TZ: 'UTC' });
  });

  it('takes a zone, and a report URL template with its placeholders', () => {
    const config = loadConfig({ DEFAULT_TZ: 'Asia/Kolkata', CAMPAIGN_REPORT_URL: 'https://dash.example.com/c/{campaign_id}?j={journey_id}&s={step_id}' });
    expect(config.DEFAULT_TZ).toBe('Asia/Kolkata');
    expect(config.CAMPAIGN_REPORT_URL).toBe('https://dash.example.com/c/{campaign_id}?j={journey_id}&s={step_id}');
    expect(loadConfig({}).DEFAULT_TZ).toBe('UTC');
  });
});
