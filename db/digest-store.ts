// Digest subscriptions and their runs in the database. A run is claimed with one atomic statement before it is
// posted, so however many runners look at the same run at once, exactly one of them posts it.
import { and, asc, eq, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { queryRows, type Db } from './client.js';
import { digestRuns, digestSubscriptions } from './schema.js';

export type DigestSubscription = typeof digestSubscriptions.$inferSelect;
export type NewDigestSubscription = typeof digestSubscriptions.$inferInsert;
export type DigestRun = typeof digestRuns.$inferSelect;
export type DigestRunStatus = 'claimed' | 'posted' | 'failed' | 'skipped';

export async function addSubscription(db: Db, values: NewDigestSubscription): Promise<DigestSubscription> {
  const [row] = await db.insert(digestSubscriptions).values(values).returning();
  return row!;
}

/** Subscriptions of one channel, or of every channel, oldest first. */
export async function listSubscriptions(db: Db, channelId?: string): Promise<DigestSubscription[]> {
  const query = db.select().from(digestSubscriptions);
  return channelId === undefined
    ? query.orderBy(asc(digestSubscriptions.id))
    : query.where(eq(digestSubscriptions.channelId, channelId)).orderBy(asc(digestSubscriptions.id));
}

export async function getSubscription(db: Db, id: number): Promise<DigestSubscription | null> {
  const [row] = await db.select().from(digestSubscriptions).where(eq(digestSubscriptions.id, id));
  return row ?? null;
}

/** Removes a subscription (only in `channelId` when given) and its run history; the removed row, or null. */
export async function removeSubscription(db: Db, id: number, channelId?: string): Promise<DigestSubscription | null> {
  const where =
    channelId === undefined
      ? eq(digestSubscriptions.id, id)
      : and(eq(digestSubscriptions.id, id), eq(digestSubscriptions.channelId, channelId));
  const [row] = await db.delete(digestSubscriptions).where(where).returning();
  return row ?? null;
}

/** The latest scheduled time recorded for each subscription (any status): runs up to it are already decided. */
export async function latestRecordedRuns(db: Db): Promise<Map<number, Date>> {
  const rows = await queryRows<{ subscription_id: number; latest: string | Date }>(
    db,
    sql`select subscription_id, max(scheduled_for) as latest from ${digestRuns} group by subscription_id`,
  );
  return new Map(rows.map((r) => [Number(r.subscription_id), new Date(r.latest)]));
}

/**
 * Claims a new run: inserts its row as `claimed` unless the run key already exists. Returns the row when this
 * caller won the claim, null when another runner (or an earlier run of this one) already has it.
 */
export async function claimNewRun(
  db: Db,
  run: { subscriptionId: number; scheduledFor: Date; late: boolean; runner: string; now: Date; leaseMs: number },
): Promise<DigestRun | null> {
  const [row] = await db
    .insert(digestRuns)
    .values({
      subscriptionId: run.subscriptionId,
      scheduledFor: run.scheduledFor,
      status: 'claimed',
      late: run.late,
      attempts: 1,
      claimedBy: run.runner,
      claimExpiresAt: new Date(run.now.getTime() + run.leaseMs),
      createdAt: run.now,
    })
    .onConflictDoNothing({ target: [digestRuns.subscriptionId, digestRuns.scheduledFor] })
    .returning();
  return row ?? null;
}

/** Records missed runs as skipped (runs already recorded keep their row). */
export async function recordSkippedRuns(
  db: Db,
  subscriptionId: number,
  times: readonly Date[],
  detail: string,
  now: Date,
): Promise<number> {
  if (times.length === 0) return 0;
  const rows = await db
    .insert(digestRuns)
    .values(times.map((scheduledFor) => ({ subscriptionId, scheduledFor, status: 'skipped', detail, createdAt: now })))
    .onConflictDoNothing({ target: [digestRuns.subscriptionId, digestRuns.scheduledFor] })
    .returning({ id: digestRuns.id });
  return rows.length;
}

/** Runs that may be (re)claimed now: failed ones whose retry time has come, and claims whose runner vanished. */
export async function retryableRuns(db: Db, now: Date): Promise<DigestRun[]> {
  return db
    .select()
    .from(digestRuns)
    .where(
      or(
        and(eq(digestRuns.status, 'failed'), isNotNull(digestRuns.nextAttemptAt), lte(digestRuns.nextAttemptAt, now)),
        and(eq(digestRuns.status, 'claimed'), lt(digestRuns.claimExpiresAt, now)),
      ),
    )
    .orderBy(asc(digestRuns.scheduledFor));
}

/**
 * Claims a run for another attempt. The WHERE repeats the condition that made it retryable, so when several
 * runners try at once, Postgres lets the first update through and the others see a row that no longer matches.
 */
export async function reclaimRun(
  db: Db,
  run: Pick<DigestRun, 'id' | 'status' | 'attempts'>,
  claim: { runner: string; now: Date; leaseMs: number; late: boolean },
): Promise<DigestRun | null> {
  const stillRetryable =
    run.status === 'failed'
      ? and(eq(digestRuns.status, 'failed'), lte(digestRuns.nextAttemptAt, claim.now))
      : and(eq(digestRuns.status, 'claimed'), lt(digestRuns.claimExpiresAt, claim.now));
  const [row] = await db
    .update(digestRuns)
    .set({
      status: 'claimed',
      attempts: sql`${digestRuns.attempts} + 1`,
      claimedBy: claim.runner,
      claimExpiresAt: new Date(claim.now.getTime() + claim.leaseMs),
      nextAttemptAt: null,
      late: sql`${digestRuns.late} or ${claim.late}`,
    })
    .where(and(eq(digestRuns.id, run.id), eq(digestRuns.attempts, run.attempts), stillRetryable))
    .returning();
  return row ?? null;
}

/** Remembers the parent message as soon as it is posted, so no retry posts it again. */
export async function recordParentPosted(db: Db, runId: number, ts: string): Promise<void> {
  await db.update(digestRuns).set({ postedTs: ts }).where(eq(digestRuns.id, runId));
}

export async function recordThreadProgress(db: Db, runId: number, partsPosted: number): Promise<void> {
  await db.update(digestRuns).set({ threadPartsPosted: partsPosted }).where(eq(digestRuns.id, runId));
}

export async function markRunPosted(db: Db, runId: number, now: Date): Promise<void> {
  await db
    .update(digestRuns)
    .set({ status: 'posted', postedAt: now, claimExpiresAt: null, nextAttemptAt: null, detail: null })
    .where(eq(digestRuns.id, runId));
}

export async function markRunFailed(db: Db, runId: number, nextAttemptAt: Date | null, detail: string): Promise<void> {
  await db
    .update(digestRuns)
    .set({ status: 'failed', nextAttemptAt, claimExpiresAt: null, detail: detail.slice(0, 1000) })
    .where(eq(digestRuns.id, runId));
}

/**
 * Once a newer run is due, older runs of the subscription that are waiting for a retry (or whose runner vanished)
 * and have posted nothing yet become skipped: after an outage the channel gets the newest digest, not a backlog.
 * A run whose parent message is already out keeps going, so its thread is completed.
 */
export async function skipSupersededRuns(db: Db, subscriptionId: number, before: Date, now: Date, detail: string): Promise<number> {
  const rows = await db
    .update(digestRuns)
    .set({ status: 'skipped', nextAttemptAt: null, claimExpiresAt: null, detail })
    .where(
      and(
        eq(digestRuns.subscriptionId, subscriptionId),
        lt(digestRuns.scheduledFor, before),
        isNull(digestRuns.postedTs),
        or(eq(digestRuns.status, 'failed'), and(eq(digestRuns.status, 'claimed'), lt(digestRuns.claimExpiresAt, now))),
      ),
    )
    .returning({ id: digestRuns.id });
  return rows.length;
}

export async function runsOf(db: Db, subscriptionIds: readonly number[]): Promise<DigestRun[]> {
  if (subscriptionIds.length === 0) return [];
  return db
    .select()
    .from(digestRuns)
    .where(inArray(digestRuns.subscriptionId, [...subscriptionIds]))
    .orderBy(asc(digestRuns.subscriptionId), asc(digestRuns.scheduledFor));
}
