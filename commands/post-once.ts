// Posts a Slack message with retries that never make a second copy: a call that failed in a way Slack may still
// have acted on (an HTTP 5xx, a timeout) is retried only after the channel shows the post is not there.
import { randomUUID } from 'node:crypto';
import { ErrorCode, LogLevel, WebClient, type ChatPostMessageArguments } from '@slack/web-api';

/** The metadata event type that marks our posts, so a lost answer can be told from a lost post. */
export const POST_EVENT_TYPE = 'journey_analytics_post';

export interface PostOnceOptions {
  attempts?: number;
  /** Pause before attempt n+1 after a failure that is safe to repeat (ms). */
  pauseMs?: (attempt: number) => number;
  /** Per-attempt timeout (ms). */
  timeoutMs?: number;
}

type Failure =
  | { kind: 'final' }
  /** Slack did not take the call (429): wait as told, then repeat. */
  | { kind: 'rate-limited'; waitMs: number }
  /** The call never reached Slack (connection refused, unknown host): repeat. */
  | { kind: 'not-sent' }
  /** Slack may have posted: look before repeating. */
  | { kind: 'unknown' };

/** Slack's error code of a call it answered with ok: false (not_in_channel, invalid_blocks, …), if that is what failed. */
export function slackErrorCode(err: unknown): string | undefined {
  return (err as { data?: { error?: string } } | null)?.data?.error;
}

export function classifyFailure(err: unknown): Failure {
  const e = err as { code?: unknown; statusCode?: number; retryAfter?: number; original?: unknown };
  if (e?.code === ErrorCode.RateLimitedError) return { kind: 'rate-limited', waitMs: Math.max(1, e.retryAfter ?? 1) * 1000 };
  if (e?.code === ErrorCode.HTTPError) return (e.statusCode ?? 0) >= 500 ? { kind: 'unknown' } : { kind: 'final' };
  if (e?.code === ErrorCode.RequestError) {
    const cause = (e.original as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    return typeof cause === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)$/.test(cause) ? { kind: 'not-sent' } : { kind: 'unknown' };
  }
  return { kind: 'final' };
}

const singleAttemptClients = new WeakMap<WebClient, WebClient>();

/** The same token and API, without the client's own retries: each repeat here is decided by postMessageOnce. */
function singleAttempt(client: WebClient, timeoutMs: number): WebClient {
  let single = singleAttemptClients.get(client);
  if (!single) {
    single = new WebClient(client.token, {
      slackApiUrl: client.slackApiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: timeoutMs,
      // Its failures are ours to report (as errors, through the app's logger); the client's own warnings would
      // go to the console.
      logLevel: LogLevel.ERROR,
    });
    singleAttemptClients.set(client, single);
  }
  return single;
}

const defaultPause = (attempt: number) => Math.min(8000, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);

/** Returns the posted message's ts. Throws the last error when the post failed for good or its fate is unknown. */
export async function postMessageOnce(client: WebClient, args: ChatPostMessageArguments, options: PostOnceOptions = {}): Promise<string> {
  const attempts = options.attempts ?? 5;
  const pause = options.pauseMs ?? defaultPause;
  const single = singleAttempt(client, options.timeoutMs ?? 10_000);
  const postId = randomUUID();
  // Slack's clock and ours may differ: look a minute further back than the first attempt.
  const oldest = (Date.now() / 1000 - 60).toFixed(6);
  const marked = { ...args, metadata: { event_type: POST_EVENT_TYPE, event_payload: { post_id: postId } } } as ChatPostMessageArguments;
  for (let attempt = 1; ; attempt++) {
    try {
      const posted = await single.chat.postMessage(marked);
      return posted.ts!;
    } catch (err) {
      const failure = classifyFailure(err);
      if (failure.kind === 'final' || attempt >= attempts) throw err;
      if (failure.kind === 'unknown') {
        const found = await findPost(client, args, postId, oldest);
        // Cannot tell whether it is there (no history scope, not in the channel): never risk a second copy.
        if (found === undefined) throw err;
        if (found !== null) return found;
      }
      await new Promise((r) => setTimeout(r, failure.kind === 'rate-limited' ? failure.waitMs : pause(attempt)));
    }
  }
}

interface HistoryMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: { post_id?: unknown } };
}

/** The ts of our post if the channel (or thread) has it, null if it does not, undefined if we cannot tell. */
async function findPost(client: WebClient, args: ChatPostMessageArguments, postId: string, oldest: string): Promise<string | null | undefined> {
  const threadTs = (args as { thread_ts?: string }).thread_ts;
  try {
    const query = { channel: args.channel, oldest, include_all_metadata: true, limit: 200 };
    const result = threadTs ? await client.conversations.replies({ ...query, ts: threadTs }) : await client.conversations.history(query);
    const messages = (result.messages ?? []) as HistoryMessage[];
    const mine = messages.find((m) => m.metadata?.event_type === POST_EVENT_TYPE && m.metadata.event_payload?.post_id === postId);
    return mine?.ts ?? null;
  } catch {
    return undefined;
  }
}
