// Recomputes the state derived from raw events (previous entry, last step, attribution, first conversion) and keeps
// the rollups equal to it. Every function is set-based and runs inside the caller's transaction.
import { sql, type SQL } from 'drizzle-orm';
import { arrayParam, queryRows, type Db } from '../client.js';
import { bucketOf, GRAINS, utcDay } from './utc-buckets.js';

/**
 * Attribution (METRICS.md) for a set of users, or a whole journey after its conversion event or window changed: a
 * conversion is attributed, per journey, to the entry with the latest entered_at (tie: greatest entry_id) among
 * the entries whose window contains it; a user's first valid conversion is the earliest attributed one (tie:
 * smallest event_id). Attribution is per user, so a user's rows are self-contained and recomputing a set of users
 * is exact. The entries' own columns (conversion_count, first_conversion) follow in refreshEntryState.
 */
export type Scope = { users: number[] } | { journeyId: string };

/**
 * The scope's rows of a table keyed by user_id and journey_id. For users, by the row versions found through one index
 * probe per user (a TID scan): a filter on user_id = any(…) was planned as a scan of the whole table on statistics
 * that lagged a growing one.
 */
function scopeFilter(scope: Scope, table: 'conversion_attributions' | 'first_conversions'): SQL {
  return 'users' in scope
    ? sql`ctid = any(array(
        select x.ctid from unnest(${arrayParam(scope.users)}::int[]) as u(id)
        cross join lateral (select ctid from ${sql.identifier(table)} where user_id = u.id offset 0) x))`
    : sql`journey_id = ${scope.journeyId}`;
}

/**
 * The last moment a conversion counts for an entry that exited at `exitedAt` (METRICS.md: "Stop Counting Conversion
 * After User Exits"). Any window of 100,000,000 hours or more reaches past every storable timestamp (years
 * 0001–9999 span less than 88 million hours), so it is clamped there: a larger one would overflow Postgres's
 * interval and timestamp arithmetic and fail the batch, for a journey defined with a window meaning "forever".
 */
export function attributionWindowEnd(exitedAt: SQL, hours: SQL): SQL {
  return sql`${exitedAt} + least(${hours}, 100000000) * interval '1 hour'`;
}

/**
 * Recomputes attribution for the scope; for a set of users, returns those of them who have conversions at all (the
 * others have no attribution to change: conversions are never removed).
 */
export async function recomputeAttribution(db: Db, scope: Scope): Promise<number[]> {
  let users: number[] = [];
  if ('users' in scope) {
    if (scope.users.length === 0) return [];
    const rows = await queryRows<{ id: number }>(
      db,
      // One index probe per user (as a semi-join it was planned as a scan of every conversion).
      sql`select u.id from unnest(${arrayParam(scope.users)}::int[]) as u(id)
          cross join lateral (select 1 from conversions c where c.user_id = u.id limit 1) c`,
    );
    users = rows.map((r) => r.id);
    if (users.length === 0) return [];
  }
  const narrowed: Scope = 'users' in scope ? { users } : scope;
  // The scope's entries, fetched by index: per user through a LATERAL probe, so no plan scans every entry.
  const scopeEntries =
    'users' in narrowed
      ? sql`unnest(${arrayParam(narrowed.users)}::int[]) as u(id) cross join lateral (select * from entries x where x.user_id = u.id offset 0) e`
      : sql`entries e`;
  const scopeWhere = 'users' in narrowed ? sql`true` : sql`e.journey_id = ${narrowed.journeyId}`;
  await db.execute(sql`
    with a as (delete from conversion_attributions where ${scopeFilter(narrowed, 'conversion_attributions')})
    delete from first_conversions where ${scopeFilter(narrowed, 'first_conversions')}`);
  await db.execute(sql`
    with a as (
      insert into conversion_attributions (journey_id, event_id, user_id, entry_id, entered_at, at)
      select distinct on (e.journey_id, c.event_id) e.journey_id, c.event_id, c.user_id, e.entry_id, e.entered_at, c.at
      from ${scopeEntries}
      join journeys j on j.journey_id = e.journey_id and j.conversion_event is not null
      cross join lateral (
        select c.event_id, c.user_id, c.at from conversions c
        where c.user_id = e.user_id and c.event = j.conversion_event and c.at >= e.entered_at
          and (e.exited_at is null or c.at <= ${attributionWindowEnd(sql`e.exited_at`, sql`j.attribution_window_hours`)})
        offset 0
      ) c
      where ${scopeWhere}
      order by e.journey_id, c.event_id, e.entered_at desc, e.entry_id collate "C" desc
      returning *)
    insert into first_conversions (journey_id, user_id, event_id, entry_id, entered_at, at)
    select distinct on (journey_id, user_id) journey_id, user_id, event_id, entry_id, entered_at, at
    from a
    order by journey_id, user_id, at, event_id collate "C"`);
  return users;
}

/** What an import batch changed, for refreshEntryState. Parallel arrays, as they are sent to the database. */
export interface BatchChanges {
  /** Users whose attribution was recomputed (the batch's users who have conversions). */
  attributionUsers: number[];
  /** Entries that received step entries in the batch (journey, entry). */
  steppedEntries: { journeyIds: string[]; entryIds: string[] };
  /** Entries inserted in the batch: they had no contribution to the rollups before. */
  newEntries: { journeyIds: string[]; entryIds: string[] };
  /** Entries whose exit was stored in the batch: before it they had not exited (and had no last step). */
  exits: { journeyIds: string[]; entryIds: string[] };
}

/** An entry's contribution to entry_rollups, from its columns; `exited` says whether it counts as exited. */
function contribution(p: { prev: SQL; count: SQL; first: SQL; exited: SQL }, sign: 1 | -1): SQL {
  const s = sql.raw(sign === 1 ? '' : '-');
  return sql`${s}1 as entries, ${s}(${p.prev} is null)::int as first_entries, ${s}${p.count} as conversion_events,
    ${s}(${p.first})::int as converted_users, ${s}(${p.exited} and ${p.count} = 0)::int as exits`;
}

const ENTRY_ROLLUP_UPSERT = sql`
  on conflict (journey_id, grain, bucket, last_step_id) do update set
    entries = entry_rollups.entries + excluded.entries,
    first_entries = entry_rollups.first_entries + excluded.first_entries,
    conversion_events = entry_rollups.conversion_events + excluded.conversion_events,
    converted_users = entry_rollups.converted_users + excluded.converted_users,
    exits = entry_rollups.exits + excluded.exits`;

/**
 * Brings the derived columns of the entries a batch touched up to date, in one statement, and moves their
 * contribution in entry_rollups from the old state to the new one:
 * - the last step of an entry that exited in the batch, or of an exited entry that received a late step entry
 *   (only exits are counted by last step, so an entry still in the journey does not carry one);
 * - conversion_count and first_conversion for every entry of the users whose attribution was recomputed;
 * - the first contribution of the entries the batch inserted (their prev_entered_at was set on insert).
 * The batch's exits are stored already: the old contribution of an entry that exited in the batch is the one
 * without its exit (and without a last step), and an entry inserted by the batch had none.
 * Every lookup is a LATERAL index probe fenced with OFFSET 0 (so the planner cannot flatten it into a join and pick
 * a scan of a large table on stale statistics).
 */
export async function refreshEntryState(db: Db, c: BatchChanges): Promise<void> {
  const keyCount = c.steppedEntries.entryIds.length + c.newEntries.entryIds.length + c.exits.entryIds.length;
  if (c.attributionUsers.length === 0 && keyCount === 0) return;
  const users = arrayParam(c.attributionUsers);
  await db.execute(sql`
    with stepped as (
      select distinct journey_id, entry_id
      from unnest(${arrayParam(c.steppedEntries.journeyIds)}::text[], ${arrayParam(c.steppedEntries.entryIds)}::text[]) as t(journey_id, entry_id)
    ),
    new_keys as (
      select * from unnest(${arrayParam(c.newEntries.journeyIds)}::text[], ${arrayParam(c.newEntries.entryIds)}::text[]) as t(journey_id, entry_id)
    ),
    exit_keys as (
      select * from unnest(${arrayParam(c.exits.journeyIds)}::text[], ${arrayParam(c.exits.entryIds)}::text[]) as t(journey_id, entry_id)
    ),
    keyed as (select journey_id, entry_id from new_keys union select journey_id, entry_id from exit_keys),
    touched as (
      select e.*, true as by_user
      from unnest(${users}::int[]) as u(id) cross join lateral (select e.ctid as row_id, e.* from entries e where e.user_id = u.id offset 0) e
      union all
      select e.*, false
      from keyed k cross join lateral (
        select e.ctid as row_id, e.* from entries e where e.journey_id = k.journey_id and e.entry_id = k.entry_id offset 0) e
      where e.user_id <> all(${users}::int[])
      union all
      -- A late step entry changes the last step only of an entry that has exited already.
      select e.*, false
      from stepped b cross join lateral (
        select e.ctid as row_id, e.* from entries e
        where e.journey_id = b.journey_id and e.entry_id = b.entry_id and e.exited_at is not null offset 0) e
      where e.user_id <> all(${users}::int[])
        and not exists (select 1 from keyed k where k.journey_id = b.journey_id and k.entry_id = b.entry_id)
    ),
    flagged as (
      select t.*, n.entry_id is not null as is_new, x.entry_id is not null as exited_now,
        t.exited_at is not null and (x.entry_id is not null or b.entry_id is not null) as needs_step
      from touched t
      left join stepped b on b.journey_id = t.journey_id and b.entry_id = t.entry_id
      left join new_keys n on n.journey_id = t.journey_id and n.entry_id = t.entry_id
      left join exit_keys x on x.journey_id = t.journey_id and x.entry_id = t.entry_id
    ),
    computed as (
      select f.row_id, f.user_id, f.journey_id, f.entry_id, f.entered_at, f.exited_at, f.is_new, f.exited_now,
        f.prev_entered_at, f.last_step_id, f.last_step_event_id, f.conversion_count, f.first_conversion,
        f.prev_entered_at as new_prev,
        case when f.needs_step then ls.step_id else f.last_step_id end as new_step_id,
        case when f.needs_step then ls.at else f.last_step_at end as new_step_at,
        case when f.needs_step then ls.event_id else f.last_step_event_id end as new_step_event_id,
        case when f.by_user
          then (select count(*)::int from conversion_attributions a
                where a.user_id = f.user_id and a.journey_id = f.journey_id and a.entry_id = f.entry_id)
          else f.conversion_count end as new_count,
        case when f.by_user
          then coalesce((select fc.entry_id = f.entry_id from first_conversions fc
                         where fc.user_id = f.user_id and fc.journey_id = f.journey_id), false)
          else f.first_conversion end as new_first
      from flagged f
      left join lateral (
        select s.step_id, s.at, s.event_id from step_entries s
        where f.needs_step and s.user_id = f.user_id and s.journey_id = f.journey_id and s.entry_id = f.entry_id
        order by s.at desc, s.event_id collate "C" desc limit 1
      ) ls on true
    ),
    state as (
      select c.*,
        (c.last_step_event_id is distinct from c.new_step_event_id
          or c.conversion_count <> c.new_count or c.first_conversion <> c.new_first) as changed
      from computed c
    ),
    upd as (
      update entries e set
        last_step_id = s.new_step_id,
        last_step_at = s.new_step_at,
        last_step_event_id = s.new_step_event_id,
        conversion_count = s.new_count,
        first_conversion = s.new_first
      from state s
      -- By the row versions just read: a TID scan, whatever the planner estimates for the batch.
      where e.ctid = any(array(select row_id from state where changed)) and e.ctid = s.row_id
    ),
    delta as (
      select journey_id, entered_at, coalesce(new_step_id, '') as last_step_id,
        ${contribution({ prev: sql`new_prev`, count: sql`new_count`, first: sql`new_first`, exited: sql`exited_at is not null` }, 1)}
      from state where changed or is_new or exited_now
      union all
      select journey_id, entered_at, coalesce(last_step_id, ''),
        ${contribution({ prev: sql`prev_entered_at`, count: sql`conversion_count`, first: sql`first_conversion`, exited: sql`(exited_at is not null and not exited_now)` }, -1)}
      from state where not is_new and (changed or exited_now)
    )
    insert into entry_rollups (journey_id, grain, bucket, last_step_id, entries, first_entries, conversion_events, converted_users, exits)
    select d.journey_id, g.grain, ${bucketOf(sql`d.entered_at`)}, d.last_step_id,
      sum(d.entries), sum(d.first_entries), sum(d.conversion_events), sum(d.converted_users), sum(d.exits)
    from delta d ${GRAINS}
    group by 1, 2, 3, 4
    having sum(abs(d.entries)) + sum(abs(d.first_entries)) + sum(abs(d.conversion_events))
      + sum(abs(d.converted_users)) + sum(abs(d.exits)) > 0
    ${ENTRY_ROLLUP_UPSERT}`);
}

/**
 * After a journey's conversion event or window changed: recompute its attribution, the conversion columns of all
 * its entries, and its entry rollups from scratch.
 */
export async function recomputeJourney(db: Db, journeyId: string): Promise<void> {
  await recomputeAttribution(db, { journeyId });
  await db.execute(sql`
    update entries e set conversion_count = n.count, first_conversion = n.first
    from (
      select e2.user_id, e2.entry_id,
        (select count(*)::int from conversion_attributions a
         where a.user_id = e2.user_id and a.journey_id = e2.journey_id and a.entry_id = e2.entry_id) as count,
        exists (select 1 from first_conversions f
                where f.user_id = e2.user_id and f.journey_id = e2.journey_id and f.entry_id = e2.entry_id) as first
      from entries e2 where e2.journey_id = ${journeyId}
    ) n
    where e.journey_id = ${journeyId} and e.user_id = n.user_id and e.entry_id = n.entry_id
      and (e.conversion_count <> n.count or e.first_conversion <> n.first)`);
  await rebuildRollups(db, journeyId, ['entries']);
}

/** `revisits`: the revisit cells of entries and step entries (schema.ts), which only previous rows move. */
export type RollupFamily = 'entries' | 'step_entries' | 'messages' | 'outcomes' | 'revisits';
const ALL_FAMILIES: readonly RollupFamily[] = ['entries', 'step_entries', 'messages', 'outcomes', 'revisits'];

/**
 * Rebuilds rollups of a journey (or of every journey) from the stored rows: used when a journey's settings change
 * its attribution, and by tests to check that the incremental rollups equal a rebuild.
 */
export async function rebuildRollups(db: Db, journeyId: string | null, families: readonly RollupFamily[] = ALL_FAMILIES): Promise<void> {
  const only = (column: SQL) => (journeyId === null ? sql`true` : sql`${column} = ${journeyId}`);
  const bucket = bucketOf(sql`x.entered_at`);
  if (families.includes('entries')) {
    await db.execute(sql`delete from entry_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into entry_rollups (journey_id, grain, bucket, last_step_id, entries, first_entries, conversion_events, converted_users, exits)
      select x.journey_id, g.grain, ${bucket}, coalesce(x.last_step_id, ''), count(*), count(*) filter (where x.prev_entered_at is null),
        sum(x.conversion_count), count(*) filter (where x.first_conversion),
        count(*) filter (where x.exited_at is not null and x.conversion_count = 0)
      from entries x ${GRAINS} where ${only(sql`x.journey_id`)}
      group by 1, 2, 3, 4`);
  }
  if (families.includes('revisits')) {
    await db.execute(sql`delete from entry_revisit_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into entry_revisit_rollups (journey_id, entered_day, prev_day, count)
      select x.journey_id, ${utcDay(sql`x.entered_at`)}, ${utcDay(sql`x.prev_entered_at`)}, count(*)
      from entries x where x.prev_entered_at is not null and ${only(sql`x.journey_id`)}
      group by 1, 2, 3`);
    await db.execute(sql`delete from step_revisit_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into step_revisit_rollups (journey_id, entered_day, prev_day, step_id, count)
      select x.journey_id, ${utcDay(sql`x.entered_at`)}, ${utcDay(sql`x.prev_entered_at`)}, x.step_id, count(*)
      from step_entries x where x.prev_entered_at is not null and ${only(sql`x.journey_id`)}
      group by 1, 2, 3, 4`);
  }
  if (families.includes('step_entries')) {
    await db.execute(sql`delete from step_entry_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into step_entry_rollups (journey_id, grain, bucket, step_id, entries, first_users)
      select x.journey_id, g.grain, ${bucket}, x.step_id, count(*), count(*) filter (where x.prev_entered_at is null)
      from step_entries x ${GRAINS} where ${only(sql`x.journey_id`)}
      group by 1, 2, 3, 4`);
  }
  if (families.includes('messages')) {
    await db.execute(sql`delete from message_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into message_rollups (journey_id, grain, bucket, step_id, status, platform, count)
      select x.journey_id, g.grain, ${bucket}, x.step_id, x.status, coalesce(x.platform, ''), count(*)
      from messages x ${GRAINS} where ${only(sql`x.journey_id`)}
      group by 1, 2, 3, 4, 5, 6`);
  }
  if (families.includes('outcomes')) {
    await db.execute(sql`delete from outcome_rollups where ${only(sql`journey_id`)}`);
    await db.execute(sql`
      insert into outcome_rollups (journey_id, grain, bucket, step_id, outcome, count)
      select x.journey_id, g.grain, ${bucket}, x.step_id, x.outcome, count(*)
      from step_outcomes x ${GRAINS} where ${only(sql`x.journey_id`)}
      group by 1, 2, 3, 4, 5`);
  }
}

/**
 * Recomputes every derived column from the raw rows (previous entries and step entries, last steps, attribution)
 * and rebuilds the rollups: the repair for a database whose derived state is in doubt.
 */
export async function recomputeAllDerivedState(db: Db): Promise<void> {
  await db.execute(sql`
    update entries e set prev_entered_at = p.prev
    from (select user_id, journey_id, entry_id,
            lag(entered_at) over (partition by journey_id, user_id order by entered_at, entry_id collate "C") as prev
          from entries) p
    where e.user_id = p.user_id and e.journey_id = p.journey_id and e.entry_id = p.entry_id
      and e.prev_entered_at is distinct from p.prev`);
  await db.execute(sql`
    update step_entries s set prev_entered_at = p.prev
    from (select user_id, event_id,
            lag(entered_at) over (partition by journey_id, step_id, user_id order by entered_at, entry_id collate "C", event_id collate "C") as prev
          from step_entries) p
    where s.user_id = p.user_id and s.event_id = p.event_id and s.prev_entered_at is distinct from p.prev`);
  await db.execute(sql`
    update entries e set last_step_id = l.step_id, last_step_at = l.at, last_step_event_id = l.event_id
    from (select distinct on (journey_id, entry_id) journey_id, entry_id, step_id, at, event_id
          from step_entries order by journey_id, entry_id, at desc, event_id collate "C" desc) l
    where e.journey_id = l.journey_id and e.entry_id = l.entry_id and e.exited_at is not null
      and e.last_step_event_id is distinct from l.event_id`);
  for (const { journey_id } of await queryRows<{ journey_id: string }>(db, sql`select journey_id from journeys`)) {
    await recomputeJourney(db, journey_id);
  }
  await rebuildRollups(db, null);
}
