// The local console: a Slack-like channel in the browser. Commands and button clicks run through the very
// listeners Slack uses; their Web API calls land on a small in-process stand-in for Slack that keeps the channel.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { RespondArguments, RespondFn } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import express from 'express';
import { exportButtonListener, journeyCommandListener, stepsButtonListener, type SlackDeps } from '../commands/index.js';
import { SUBCOMMANDS } from '../commands/journey-command.js';
import { ACTION_ID_PATTERNS } from '../reports/blocks/actions.js';
import { escapeMrkdwn } from '../reports/format.js';
import { listJourneyNames } from '../reports/journey-lookup.js';

export const CONSOLE_CHANNEL = 'C_CONSOLE';
export const CONSOLE_USER = 'U_CONSOLE';

export interface ConsoleFile {
  id: string;
  name: string;
  size: number;
  isImage: boolean;
  /** The first lines of a CSV, shown in the thread. */
  preview: string | null;
}

export interface ConsoleMessage {
  ts: string;
  from: 'you' | 'app';
  ephemeral: boolean;
  text: string;
  blocks: unknown[];
  threadTs: string | null;
  files: ConsoleFile[];
}

/** Keeps the channel and answers the Web API methods the app calls. */
class ConsoleChannel {
  readonly messages: ConsoleMessage[] = [];
  private readonly files = new Map<string, { name: string; data: Buffer }>();
  private readonly pendingUploads = new Map<string, { name: string; data?: Buffer }>();
  private seq = 0;
  /** Bounds memory: a long session keeps its latest files only. */
  private static readonly MAX_FILES = 50;

  nextTs(): string {
    this.seq++;
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq).padStart(6, '0')}`;
  }

  add(message: Omit<ConsoleMessage, 'ts' | 'files'> & { ts?: string }): ConsoleMessage {
    const full: ConsoleMessage = { ...message, ts: message.ts ?? this.nextTs(), files: [] };
    this.messages.push(full);
    return full;
  }

  /** chat.update: the app's own message, its text and blocks replaced. */
  update(ts: string, text: string, blocks: unknown[]): boolean {
    const message = this.messages.find((m) => m.ts === ts && m.from === 'app');
    if (!message) return false;
    message.text = text;
    message.blocks = blocks;
    return true;
  }

  beginUpload(name: string): string {
    const id = `F${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    this.pendingUploads.set(id, { name });
    return id;
  }

  receiveUpload(id: string, data: Buffer): boolean {
    const pending = this.pendingUploads.get(id);
    if (!pending) return false;
    pending.data = data;
    return true;
  }

  /**
   * files.completeUploadExternal: with a channel the file appears (in the thread when one is named) with the
   * comment as its message; without one it is only stored, as Slack keeps a private upload for image blocks.
   */
  completeUpload(ids: string[], channelId: string | null, threadTs: string | null, comment: string): void {
    const attached: ConsoleFile[] = [];
    for (const id of ids) {
      const pending = this.pendingUploads.get(id);
      if (!pending?.data) continue;
      this.pendingUploads.delete(id);
      this.files.set(id, { name: pending.name, data: pending.data });
      while (this.files.size > ConsoleChannel.MAX_FILES) this.files.delete(this.files.keys().next().value!);
      const isCsv = pending.name.endsWith('.csv');
      attached.push({
        id,
        name: pending.name,
        size: pending.data.length,
        isImage: /\.(png|jpe?g|gif)$/i.test(pending.name),
        preview: isCsv ? pending.data.toString('utf8').split('\n').slice(0, 21).join('\n') : null,
      });
    }
    if (channelId === null) return;
    const message = this.add({ from: 'app', ephemeral: false, text: comment, blocks: [], threadTs });
    message.files = attached;
  }

  file(id: string) {
    return this.files.get(id);
  }
}

function field(body: Record<string, unknown>, name: string): unknown {
  const value = body[name];
  if (typeof value === 'string' && /^[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

export interface ConsoleOptions {
  deps: Omit<SlackDeps, 'userTimeZone'>;
  /** Where this server can be reached from itself (the in-process Web API client calls it). */
  selfUrl: () => string;
  defaultTz: string;
  /** When set, the page must send it (CONSOLE_TOKEN). */
  token?: string | undefined;
}

export function consoleRouter(options: ConsoleOptions): express.Router {
  const channel = new ConsoleChannel();
  const router = express.Router();
  let tz = options.defaultTz;
  const deps: SlackDeps = { ...options.deps, userTimeZone: async () => tz };
  // Only this process's own Web API clients may post into the channel: the API's path holds a secret, so every
  // client made from the same base URL (as postMessageOnce makes one) can reach it, and nobody else can.
  const internalSecret = randomUUID();
  const client = () => new WebClient('xoxb-console', { slackApiUrl: `${options.selfUrl()}/console/slack-api/${internalSecret}/` });
  // response_url answers: what Bolt's respond() would POST, kept in the channel instead.
  const respond = (async (message: string | RespondArguments) => {
    const m = (typeof message === 'string' ? { text: message } : message) as { response_type?: string; text?: string; blocks?: unknown[] };
    channel.add({ from: 'app', ephemeral: m.response_type !== 'in_channel', text: m.text ?? '', blocks: m.blocks ?? [], threadTs: null });
    return { status: 200 };
  }) as unknown as RespondFn;

  router.use('/console', express.static(fileURLToPath(new URL('./console/', import.meta.url)), { index: 'index.html' }));

  // The stand-in for Slack's Web API (form-encoded, like the real one).
  // The secret is checked before the body is read: nobody else gets as far as a body parser's errors.
  const ownClientsOnly: express.RequestHandler = (req, res, next) => {
    if (req.params.secret === internalSecret) return next();
    res.status(403).json({ ok: false, error: 'not_allowed' });
  };
  router.post('/console/slack-api/:secret/:method', ownClientsOnly, express.urlencoded({ extended: false, limit: '5mb' }), express.json({ limit: '5mb' }), (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    switch (req.params.method) {
      case 'chat.postMessage': {
        const posted = channel.add({
          from: 'app',
          ephemeral: false,
          text: String(body.text ?? ''),
          blocks: (field(body, 'blocks') as unknown[] | undefined) ?? [],
          threadTs: typeof body.thread_ts === 'string' ? body.thread_ts : null,
        });
        res.json({ ok: true, channel: CONSOLE_CHANNEL, ts: posted.ts });
        return;
      }
      case 'chat.update': {
        const ts = String(body.ts ?? '');
        const updated = channel.update(ts, String(body.text ?? ''), (field(body, 'blocks') as unknown[] | undefined) ?? []);
        res.json(updated ? { ok: true, channel: CONSOLE_CHANNEL, ts } : { ok: false, error: 'message_not_found' });
        return;
      }
      case 'users.info':
        res.json({ ok: true, user: { id: body.user, tz } });
        return;
      case 'auth.test':
        res.json({ ok: true, user_id: 'U_APP', team_id: 'T_CONSOLE', bot_id: 'B_APP' });
        return;
      case 'files.getUploadURLExternal': {
        const id = channel.beginUpload(String(body.filename ?? 'file'));
        res.json({ ok: true, file_id: id, upload_url: `${options.selfUrl()}/console/upload/${id}` });
        return;
      }
      case 'files.completeUploadExternal': {
        const files = (field(body, 'files') as Array<{ id: string }> | undefined) ?? [];
        channel.completeUpload(
          files.map((f) => f.id),
          typeof body.channel_id === 'string' ? body.channel_id : null,
          typeof body.thread_ts === 'string' ? body.thread_ts : null,
          String(body.initial_comment ?? ''),
        );
        res.json({ ok: true, files });
        return;
      }
      default:
        res.json({ ok: false, error: 'unknown_method' });
    }
  });
  router.post('/console/upload/:id', express.raw({ type: () => true, limit: '200mb' }), (req, res) => {
    const ok = channel.receiveUpload(String(req.params.id), req.body as Buffer);
    res.status(ok ? 200 : 404).send(ok ? 'OK' : 'unknown upload');
  });

  router.get('/console/files/:id', consoleTokenGuard(options.token), (req, res) => {
    const file = channel.file(String(req.params.id));
    if (!file) {
      res.status(404).send('This file is no longer kept; ask for the export again.');
      return;
    }
    const type = file.name.endsWith('.png') ? 'image/png' : file.name.endsWith('.gz') ? 'application/gzip' : 'text/csv; charset=utf-8';
    res.type(type);
    if (!file.name.endsWith('.png')) res.attachment(file.name);
    res.send(file.data);
  });

  const api = express.Router();
  api.use(consoleTokenGuard(options.token));
  api.use(express.json({ limit: '64kb' }));
  api.get('/messages', (_req, res) => {
    res.json({ messages: channel.messages });
  });
  api.get('/completions', async (_req, res, next) => {
    try {
      const journeys = await listJourneyNames(deps.db);
      res.json({ subcommands: SUBCOMMANDS, journeys: journeys.map((j) => ({ id: j.journeyId, name: j.name })) });
    } catch (err) {
      next(err);
    }
  });
  api.post('/command', async (req, res) => {
    const text = String((req.body as { text?: unknown }).text ?? '').replace(/^\s*\/journey\b\s*/, '');
    const zone = (req.body as { tz?: unknown }).tz;
    if (typeof zone === 'string' && zone !== '') tz = zone;
    channel.add({ from: 'you', ephemeral: false, text: `/journey ${text}`, blocks: [], threadTs: null });
    await journeyCommandListener(deps)({
      // As Slack sends it: &, < and > escaped (the listener reads them back).
      command: { text: escapeMrkdwn(text), user_id: CONSOLE_USER, channel_id: CONSOLE_CHANNEL },
      ack: async () => {},
      respond,
      client: client(),
    });
    res.json({ messages: channel.messages });
  });
  api.post('/action', async (req, res) => {
    const { ts, actionId, value } = req.body as { ts?: string; actionId?: string; value?: string };
    if (typeof ts !== 'string' || typeof actionId !== 'string') {
      res.status(400).json({ error: 'ts and actionId are required' });
      return;
    }
    const listener = ACTION_ID_PATTERNS.export.test(actionId)
      ? exportButtonListener(deps)
      : ACTION_ID_PATTERNS.steps.test(actionId)
        ? stepsButtonListener(deps)
        : null;
    if (listener) {
      // An ephemeral answer has no place in the channel, so an export from it gets a post of its own.
      const message = channel.messages.find((m) => m.ts === ts && !m.ephemeral);
      await listener({
        body: {
          type: 'block_actions',
          user: { id: CONSOLE_USER },
          channel: { id: CONSOLE_CHANNEL },
          container: { type: 'message', channel_id: CONSOLE_CHANNEL, ...(message ? { message_ts: ts } : {}) },
          message: message ? { ts, type: 'message', text: message.text } : undefined,
        } as never,
        action: { type: 'button', action_id: actionId, value, block_id: 'b', action_ts: ts, text: { type: 'plain_text', text: '' } } as never,
        ack: async () => {},
        respond,
        client: client(),
      });
    }
    res.json({ messages: channel.messages });
  });
  router.use('/console/api', api);
  // Errors as JSON, never Express's HTML page with a stack trace: a body that is not JSON says so, the rest is logged.
  router.use('/console', ((err, _req, res, _next) => {
    const status = (err as { status?: unknown }).status;
    if ((err as { type?: unknown }).type === 'entity.parse.failed') {
      res.status(400).json({ error: 'The request body is not valid JSON.' });
      return;
    }
    options.deps.log.error('console request failed', err);
    res.status(typeof status === 'number' && status >= 400 && status < 500 ? status : 500).json({ error: 'The console could not answer; the app log has the details.' });
  }) as express.ErrorRequestHandler);
  return router;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** The console serves personal data: off loopback it needs a token, or it does not start. */
export function consoleAccess(host: string, token: string | undefined): { ok: true } | { ok: false; reason: string } {
  if (LOOPBACK.test(host) || token) return { ok: true };
  return {
    ok: false,
    reason: `The local console would listen on ${host}, which other machines can reach, and it shows External IDs. Set CONSOLE_TOKEN (and open /console/?token=…), or leave HOST unset to listen on 127.0.0.1 only.`,
  };
}

/** Constant-time check of the console token, from the x-console-token header or the token query parameter. */
export function consoleTokenGuard(token: string | undefined): express.RequestHandler {
  const expected = token ? createHash('sha256').update(token).digest() : null;
  return (req, res, next) => {
    if (!expected) return next();
    const given = req.get('x-console-token') ?? (typeof req.query.token === 'string' ? req.query.token : '');
    if (timingSafeEqual(createHash('sha256').update(given).digest(), expected)) return next();
    res.status(401).json({ error: 'This console needs its token: open /console/?token=… with the CONSOLE_TOKEN value.' });
  };
}
