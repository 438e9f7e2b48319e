// A fake Slack on loopback: the Web API methods the app calls, the file upload URL and response_urls,
// recording every call so tests can check what was posted where. Also signs requests as Slack does.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  /** What the fake answered (ts of a posted message, id of a file). */
  result?: Record<string, unknown>;
}

export interface FakeSlack {
  /** Base URL of the Web API, for SLACK_API_URL (ends in /api/). */
  apiUrl: string;
  /** A response_url the app will post command answers to. */
  responseUrl(id: string): string;
  calls: RecordedCall[];
  responses: Array<{ id: string; body: Record<string, unknown> }>;
  uploads: Map<string, Buffer>;
  /** Make the next N calls of a method answer HTTP 429 with Retry-After: 1. */
  rateLimit(method: string, times: number): void;
  /**
   * Make the next N calls of a method (those matching `when`, if given) fail: HTTP `status` (default 500), or with
   * `error` an HTTP 200 answer of ok:false as Slack gives for its own errors. Failed calls go to `failedCalls`.
   */
  fail(method: string, times: number, how?: FailureHow): void;
  failedCalls: RecordedCall[];
  /** Messages posted so far (chat.postMessage calls that took effect, also those whose answer was lost). */
  posts(): RecordedCall[];
  /** Resolves when a predicate over the recorded traffic holds (polls; rejects after timeoutMs). */
  waitFor<T>(check: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export interface FailureHow {
  status?: number;
  error?: string;
  when?: (args: Record<string, unknown>) => boolean;
  /**
   * Act first (a post is made, recorded in `calls`), then lose the answer: HTTP `status` (default 500), or with
   * `hangMs` a 200 that comes only after that long — longer than the client waits.
   */
  after?: boolean;
  hangMs?: number;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseArgs(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  const type = req.headers['content-type'] ?? '';
  const text = body.toString('utf8');
  if (type.includes('application/json')) return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    args[k] = /^[[{]/.test(v) ? safeJson(v) : v;
  }
  return args;
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export async function startFakeSlack(options: { userTz?: string } = {}): Promise<FakeSlack> {
  const calls: RecordedCall[] = [];
  const responses: FakeSlack['responses'] = [];
  const uploads = new Map<string, Buffer>();
  const limited = new Map<string, number>();
  const failures: Array<FailureHow & { method: string; left: number; status: number }> = [];
  const failedCalls: RecordedCall[] = [];
  let seq = 0;
  let base = '';

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', base);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (url.pathname.startsWith('/respond/')) {
      responses.push({ id: url.pathname.slice('/respond/'.length), body: JSON.parse(body.toString('utf8') || '{}') });
      return reply(200, { ok: true });
    }
    if (url.pathname.startsWith('/upload/')) {
      // fail('upload', n): the upload URL answers 503 without keeping the body.
      const down = failures.find((f) => f.method === 'upload' && f.left > 0);
      if (down) {
        down.left -= 1;
        return reply(down.status, { ok: false });
      }
      uploads.set(url.pathname.slice('/upload/'.length), body);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('OK - ' + body.length);
    }
    if (!url.pathname.startsWith('/api/')) return reply(404, { ok: false, error: 'unknown_path' });
    const method = url.pathname.slice('/api/'.length);
    const left = limited.get(method) ?? 0;
    if (left > 0) {
      limited.set(method, left - 1);
      return reply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    }
    const args = parseArgs(req, body);
    const failure = failures.find((f) => f.method === method && f.left > 0 && (f.when?.(args) ?? true));
    if (failure) failure.left -= 1;
    if (failure && !failure.after) {
      failedCalls.push({ method, args });
      return failure.error === undefined
        ? reply(failure.status, { ok: false, error: 'fake_server_error' })
        : reply(200, { ok: false, error: failure.error });
    }
    const call: RecordedCall = { method, args };
    calls.push(call);
    const answer = async (json: Record<string, unknown>) => {
      call.result = json;
      if (failure?.hangMs !== undefined) await new Promise((r) => setTimeout(r, failure.hangMs));
      else if (failure) return reply(failure.status, { ok: false, error: 'fake_server_error' });
      return reply(200, json);
    };
    switch (method) {
      case 'auth.test':
        return reply(200, { ok: true, url: 'https://fake.slack.test/', team: 'Fake', user: 'journeybot', team_id: 'T_FAKE', user_id: 'U_BOT', bot_id: 'B_BOT' });
      case 'users.info':
        return reply(200, { ok: true, user: { id: args.user, tz: options.userTz ?? 'UTC' } });
      case 'chat.postMessage':
        return answer({ ok: true, channel: args.channel, ts: `1700000000.${String(++seq).padStart(6, '0')}`, message: { text: args.text } });
      case 'chat.update':
        return answer({ ok: true, channel: args.channel, ts: args.ts, text: args.text });
      case 'files.getUploadURLExternal': {
        const id = `F${++seq}`;
        return answer({ ok: true, file_id: id, upload_url: `${base}/upload/${id}` });
      }
      case 'files.completeUploadExternal':
        return reply(200, { ok: true, files: [{ id: 'F', title: 'file' }] });
      case 'conversations.history':
      case 'conversations.replies': {
        // What the channel (or the thread) holds: the posts that took effect, with their metadata.
        const thread = method === 'conversations.replies' ? args.ts : undefined;
        const messages = calls
          .filter((c) => c.method === 'chat.postMessage' && c.result !== undefined && c.args.channel === args.channel)
          .filter((c) => (thread === undefined ? c.args.thread_ts === undefined : c.args.thread_ts === thread || c.result?.ts === thread))
          .map((c) => ({ ts: c.result!.ts, text: c.args.text, ...(c.args.metadata ? { metadata: c.args.metadata } : {}) }));
        return reply(200, { ok: true, messages, has_more: false });
      }
      default:
        return reply(200, { ok: false, error: 'unknown_method' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    responseUrl: (id) => `${base}/respond/${id}`,
    calls,
    responses,
    uploads,
    rateLimit: (method, times) => void limited.set(method, times),
    fail: (method, times, how = {}) => void failures.push({ ...how, method, left: times, status: how.status ?? 500 }),
    failedCalls,
    posts: () => calls.filter((c) => c.method === 'chat.postMessage' && c.result !== undefined),
    waitFor: async (check, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const result = check();
        if (result !== undefined && result !== false) return result;
        if (Date.now() > deadline) throw new Error('fake Slack: the expected call never came');
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The environment of an app that answers on a free loopback port, signs with `signingSecret` and calls this fake
 * Slack; `extra` adds or overrides variables (a token of its own, export rules, DIGEST_SCHEDULER, LOG_LEVEL…).
 */
export function loopbackAppEnv(slack: FakeSlack, signingSecret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    ...extra,
  };
}

/** Headers and body of a request signed as Slack signs them (v0 HMAC-SHA256 of "v0:timestamp:body"). */
export function signedRequest(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
    },
    body,
  };
}

export function slashCommandBody(fields: {
  text: string;
  responseUrl: string;
  userId?: string;
  channelId?: string;
  teamId?: string;
  appId?: string;
}): string {
  return new URLSearchParams({
    token: 'legacy',
    team_id: fields.teamId ?? 'T_FAKE',
    team_domain: 'fake',
    channel_id: fields.channelId ?? 'C_MARKETING',
    channel_name: 'marketing',
    user_id: fields.userId ?? 'U_ASKER',
    user_name: 'asker',
    command: '/journey',
    text: fields.text,
    api_app_id: fields.appId ?? 'A_APP',
    response_url: fields.responseUrl,
    trigger_id: '1.2.3',
  }).toString();
}
