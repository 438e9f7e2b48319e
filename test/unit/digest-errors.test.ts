// What a failed digest post records and the CLI prints: Slack's own error code, or why Slack could not be reached
// ("A request error occurred: fetch failed" alone says neither where nor why).
import { createServer } from 'node:net';
import { WebClient } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../jobs/run-due-digests.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => 'error' as never, setName() {} };

describe('describeError', () => {
  it('names the refused address and what to check when Slack cannot be reached', async () => {
    // A port nothing listens on: taken, then given back.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const client = new WebClient('xoxb-test', { slackApiUrl: `http://127.0.0.1:${port}/api/`, retryConfig: { retries: 0 }, logger: quiet });
    const err: unknown = await client.chat.postMessage({ channel: 'C1', text: 'x' }).then(() => null, (e: unknown) => e);
    expect(describeError(err)).toBe(
      `A request error occurred: fetch failed (ECONNREFUSED 127.0.0.1:${port}): Slack could not be reached; check the network, and SLACK_API_URL if it is set`,
    );
  });

  it("puts Slack's error code first when its message lacks it, and says no more for an answer Slack gave", () => {
    const err = Object.assign(new Error('An API error occurred'), { data: { ok: false, error: 'channel_not_found' } });
    expect(describeError(err)).toBe('channel_not_found: An API error occurred');
  });
});
