// /journey digest add|list|remove|now: this channel's digest subscriptions, and a digest posted right away.
import type { Db } from '../db/client.js';
import { addSubscription, getSubscription, listSubscriptions, removeSubscription, type DigestSubscription } from '../db/digest-store.js';
import { formatRunTime } from '../jobs/post-digest.js';
import { buildDigestAddedMessage, buildDigestListMessage, subscriptionLine, type SubscriptionView } from '../reports/blocks/digest-admin-blocks.js';
import { buildNoticeMessage } from '../reports/blocks/notice-blocks.js';
import { computeDigest, DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS } from '../reports/digest.js';
import { parseThresholdArgs, type Thresholds } from '../reports/flags.js';
import { escapeMrkdwn, formatCode } from '../reports/format.js';
import { listJourneyNames, resolveJourneyId } from '../reports/journey-lookup.js';
import { isValidTimeZone } from '../reports/periods.js';
import { compileSchedule, nextRun, parseSchedule, SCHEDULE_HELP, ScheduleError } from '../reports/schedules.js';
import { CommandUsageError, type Asker, type CommandAnswer, type CommandDeps } from './command-types.js';

const USAGE =
  '`/journey digest add <journey|all> <schedule> [tz]`, `/journey digest list`, `/journey digest remove <id>`, `/journey digest now <journey|all>`';

export async function digestCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const [action, ...rest] = args;
  switch (action?.toLowerCase()) {
    case 'add':
      return addDigestCommand(deps, asker, rest);
    case 'list':
      if (rest.length > 0) throw new CommandUsageError(`\`digest list\` takes nothing more. Usage: ${USAGE}`);
      return listDigestsCommand(deps, asker);
    case 'remove':
      return removeDigestCommand(deps, asker, rest);
    case 'now':
      return digestNowCommand(deps, asker, rest);
    default:
      throw new CommandUsageError(`${action === undefined ? 'What about digests?' : `"${action.slice(0, 40)}" is not a digest command.`} Use ${USAGE}.`);
  }
}

export interface DigestOptions {
  periodDays: number;
  thresholds: Partial<Thresholds> | null;
}

/** Splits `days=14 drop=30` style options off the words; the rest are positional. */
export function splitDigestOptions(words: readonly string[]): { positional: string[]; options: DigestOptions } {
  const positional: string[] = [];
  const assignments: string[] = [];
  let periodDays: number | null = null;
  for (const word of words) {
    if (!/^[a-z_]+=/i.test(word)) {
      positional.push(word);
      continue;
    }
    const [key = '', value = ''] = word.split('=', 2);
    if (key.toLowerCase() !== 'days') assignments.push(word);
    else if (periodDays !== null) throw new CommandUsageError('days is given more than once: give it once.');
    else periodDays = parsePeriodDays(value);
  }
  let thresholds: Partial<Thresholds> | null = null;
  if (assignments.length > 0) {
    const parsed = parseThresholdArgs(assignments.join(' '));
    if (!parsed.ok) throw new CommandUsageError(parsed.error);
    thresholds = parsed.thresholds;
  }
  return { positional, options: { periodDays: periodDays ?? DEFAULT_PERIOD_DAYS, thresholds } };
}

export function parsePeriodDays(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value) || days < 1 || days > MAX_PERIOD_DAYS) {
    throw new CommandUsageError(`days must be a whole number from 1 to ${MAX_PERIOD_DAYS}, got "${value.slice(0, 20)}".`);
  }
  return days;
}

/** The journey id a digest names, or null for `all`. */
async function digestJourney(db: Db, query: string | undefined): Promise<string | null> {
  if (query === undefined || query === '') throw new CommandUsageError(`Which journey (or \`all\`)? Use ${USAGE}.`);
  return query.toLowerCase() === 'all' ? null : resolveJourneyId(db, query);
}

export interface NewSubscriptionInput {
  channelId: string;
  journeyQuery: string;
  schedule: string;
  tz: string;
  options: DigestOptions;
  createdBy: string;
  now: Date;
}

/** Validates and stores a subscription (the Slack command and the CLI share this). */
export async function createSubscription(db: Db, input: NewSubscriptionInput): Promise<DigestSubscription> {
  if (!isValidTimeZone(input.tz)) throw new ScheduleError(`"${input.tz}" is not an IANA time zone (like Europe/Istanbul or UTC).`);
  const journeyId = await digestJourney(db, input.journeyQuery);
  const parsed = parseSchedule(input.schedule);
  return addSubscription(db, {
    channelId: input.channelId,
    journeyId,
    schedule: parsed.text,
    cron: parsed.cron,
    tz: input.tz,
    periodDays: input.options.periodDays,
    thresholds: input.options.thresholds as Record<string, number> | null,
    createdBy: input.createdBy,
    createdAt: input.now,
  });
}

async function addDigestCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const { positional, options } = splitDigestOptions(args);
  const [journeyQuery, ...scheduleWords] = positional;
  if (journeyQuery === undefined) throw new CommandUsageError(`Which journey (or \`all\`)? Use ${USAGE}.`);
  // The last word is the zone when it names one ("weekly mon 09:00 Europe/Berlin"); no schedule word is a zone.
  const last = scheduleWords.at(-1);
  const explicitTz = last !== undefined && scheduleWords.length > 1 && isValidTimeZone(last) ? last : null;
  // A word shaped like a zone ("Europe/Istambul") that names none is a mistyped zone, not part of the schedule.
  if (explicitTz === null && last !== undefined && scheduleWords.length > 1 && /^[a-z][\w+-]*(\/[\w+-]+)+$/i.test(last)) {
    throw new ScheduleError(`"${last.slice(0, 60)}" is not an IANA time zone (like Europe/Istanbul or UTC). Leave it out to use your Slack time zone, ${asker.tz}.`);
  }
  const tz = explicitTz ?? asker.tz;
  const schedule = (explicitTz === null ? scheduleWords : scheduleWords.slice(0, -1)).join(' ');
  if (schedule === '') throw new CommandUsageError(`When should it post? Schedules: ${SCHEDULE_HELP}.`);
  const subscription = await createSubscription(deps.db, {
    channelId: asker.channelId,
    journeyQuery,
    schedule,
    tz,
    options,
    createdBy: asker.userId,
    now: deps.now(),
  });
  const view = await subscriptionView(deps.db, subscription, deps.now());
  return { kind: 'message', visibility: 'in_channel', message: buildDigestAddedMessage(view, asker.userId) };
}

async function listDigestsCommand(deps: CommandDeps, asker: Asker): Promise<CommandAnswer> {
  const subscriptions = await listSubscriptions(deps.db, asker.channelId);
  const views = await subscriptionViews(deps.db, subscriptions, deps.now());
  return { kind: 'message', visibility: 'ephemeral', message: buildDigestListMessage(views) };
}

async function removeDigestCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const [idText, extra] = args;
  const id = parseSubscriptionId(idText);
  if (extra !== undefined) throw new CommandUsageError(`Unexpected "${extra.slice(0, 40)}". Usage: \`/journey digest remove <id>\``);
  const removed = await removeSubscription(deps.db, id, asker.channelId);
  if (removed === null) {
    const elsewhere = await getSubscription(deps.db, id);
    throw new CommandUsageError(
      elsewhere
        ? `Digest #${id} belongs to another channel (<#${elsewhere.channelId}>); remove it there.`
        : `There is no digest #${id}. \`/journey digest list\` shows this channel's digests.`,
    );
  }
  const view = await subscriptionView(deps.db, removed, null);
  return {
    kind: 'message',
    visibility: 'in_channel',
    message: buildNoticeMessage(`:wastebasket: <@${asker.userId}> removed digest ${subscriptionLine(view).replace(/ · next: never/, '')}.`),
  };
}

export function parseSubscriptionId(text: string | undefined): number {
  // Digits only: Number() would also read "1e1" as 10 and "0x2" as 2, and this number picks what is deleted.
  const digits = /^#?(\d+)$/.exec(text ?? '')?.[1];
  const id = Number(digits);
  if (digits === undefined || !Number.isSafeInteger(id) || id < 1) {
    throw new CommandUsageError(`Which digest? Give its number, like \`/journey digest remove 3\` (\`/journey digest list\` shows them).`);
  }
  return id;
}

async function digestNowCommand(deps: CommandDeps, asker: Asker, args: string[]): Promise<CommandAnswer> {
  const { positional, options } = splitDigestOptions(args);
  const [journeyQuery, extra] = positional;
  if (extra !== undefined) throw new CommandUsageError(`Unexpected "${extra.slice(0, 40)}". Usage: \`/journey digest now <journey|all> [days=7]\``);
  const journeyId = await digestJourney(deps.db, journeyQuery);
  const digest = await computeDigest(deps.db, {
    journeyId,
    at: deps.now(),
    tz: asker.tz,
    periodDays: options.periodDays,
    thresholds: options.thresholds as Record<string, number> | null,
  });
  return { kind: 'digest', digest, origin: { kind: 'now', userId: asker.userId } };
}

export async function subscriptionViews(db: Db, subscriptions: readonly DigestSubscription[], now: Date | null): Promise<SubscriptionView[]> {
  const names = new Map((await listJourneyNames(db)).map((j) => [j.journeyId, j.name]));
  return subscriptions.map((s) => toView(s, names, now));
}

async function subscriptionView(db: Db, subscription: DigestSubscription, now: Date | null): Promise<SubscriptionView> {
  const [view] = await subscriptionViews(db, [subscription], now);
  return view!;
}

function toView(s: DigestSubscription, names: ReadonlyMap<string, string>, now: Date | null): SubscriptionView {
  let next: string | null = null;
  if (now !== null) {
    try {
      const at = nextRun(compileSchedule(s.cron), s.tz, now);
      next = at === null ? null : formatRunTime(at, s.tz);
    } catch {
      next = null;
    }
  }
  const name = s.journeyId === null ? undefined : names.get(s.journeyId);
  const what =
    s.journeyId === null
      ? 'all journeys'
      : name === undefined
        ? `${formatCode(s.journeyId)} (no longer exists)`
        : `*${escapeMrkdwn(name)}* (${formatCode(s.journeyId)})`;
  return {
    id: s.id,
    what,
    schedule: s.schedule,
    tz: s.tz,
    periodDays: s.periodDays,
    thresholds: s.thresholds ?? null,
    createdBy: s.createdBy,
    next,
  };
}
