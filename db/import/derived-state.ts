// Recomputes the state derived from raw events (last step, attribution, first conversion) for a scope.
// Every function is idempotent and set-based: running it again repairs whatever a crash left behind.
import { sql, type SQL } from 'drizzle-orm';
import { arrayParam, type Db } from '../client.js';

/** Whose derived state to recompute: a set of users (after an import batch) or a whole journey (after its settings change). */
export type Scope = { users: number[] } | { journeyId: string };

function scopeFilter(scope: Scope, userColumn: SQL, journeyColumn: SQL): SQL {
  return 'users' in scope
    ? sql`${userColumn} = any(${arrayParam(scope.users)}::int[])`
    : sql`${journeyColumn} = ${scope.journeyId}`;
}

/** An entry's last step is its step entry with the latest `at` (tie: greatest event_id). */
export async function recomputeLastSteps(db: Db, journeyIds: string[], entryIds: string[]): Promise<void> {
  if (entryIds.length === 0) return;
  await db.execute(sql`
    update entries e set last_step_id = s.step_id
    from (
      select distinct on (se.journey_id, se.entry_id) se.journey_id, se.entry_id, se.step_id
      from step_entries se
      join unnest(${arrayParam(journeyIds)}::text[], ${arrayParam(entryIds)}::text[]) as t(journey_id, entry_id)
        on se.journey_id = t.journey_id and se.entry_id = t.entry_id
      order by se.journey_id, se.entry_id, se.at desc, se.event_id collate "C" desc
    ) s
    where e.journey_id = s.journey_id and e.entry_id = s.entry_id
      and e.last_step_id is distinct from s.step_id`);
}

/**
 * Attribution (METRICS.md): a conversion is attributed, per journey, to the entry with the latest
 * entered_at (tie: greatest entry_id) among the entries whose window contains it; a user's first valid
 * conversion is the earliest attributed one (tie: smallest event_id). Attribution is per user, so a
 * user's rows are self-contained and recomputing a set of users is exact.
 */
export async function recomputeAttribution(db: Db, scope: Scope): Promise<void> {
  if ('users' in scope && scope.users.length === 0) return;
  await db.execute(
    sql`delete from conversion_attributions where ${scopeFilter(scope, sql`user_id`, sql`journey_id`)}`,
  );
  await db.execute(sql`
    insert into conversion_attributions (journey_id, event_id, user_id, entry_id, entered_at, at)
    select distinct on (e.journey_id, c.event_id) e.journey_id, c.event_id, c.user_id, e.entry_id, e.entered_at, c.at
    from entries e
    join journeys j on j.journey_id = e.journey_id and j.conversion_event is not null
    join conversions c on c.user_id = e.user_id and c.event = j.conversion_event
      and c.at >= e.entered_at
      and (e.exited_at is null or c.at <= e.exited_at + j.attribution_window_hours * interval '1 hour')
    where ${scopeFilter(scope, sql`e.user_id`, sql`e.journey_id`)}
    order by e.journey_id, c.event_id, e.entered_at desc, e.entry_id collate "C" desc`);
  await db.execute(sql`delete from first_conversions where ${scopeFilter(scope, sql`user_id`, sql`journey_id`)}`);
  await db.execute(sql`
    insert into first_conversions (journey_id, user_id, event_id, entry_id, entered_at, at)
    select distinct on (journey_id, user_id) journey_id, user_id, event_id, entry_id, entered_at, at
    from conversion_attributions
    where ${scopeFilter(scope, sql`user_id`, sql`journey_id`)}
    order by journey_id, user_id, at, event_id collate "C"`);
  await db.execute(sql`
    update entries e set conversion_count = n.count
    from (
      select e2.journey_id, e2.entry_id, count(a.event_id)::int as count
      from entries e2
      left join conversion_attributions a on a.journey_id = e2.journey_id and a.entry_id = e2.entry_id
      where ${scopeFilter(scope, sql`e2.user_id`, sql`e2.journey_id`)}
      group by e2.journey_id, e2.entry_id
    ) n
    where e.journey_id = n.journey_id and e.entry_id = n.entry_id and e.conversion_count <> n.count`);
}
