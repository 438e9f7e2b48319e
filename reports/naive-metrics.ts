// The naive baseline of METRICS.md: every metric in plain SQL straight from the raw events (entries with their
// exits, step entries, messages, outcomes, conversions), attribution computed on the fly, no derived column, no
// rollup, no denormalised entered_at. The test oracle of computeReport and the benchmark's baseline.
import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../db/client.js';
import { attributionWindowEnd } from '../db/import/derived-state.js';
import { assembleReport, cohortFilter, type EntryTotals, type MetricRows } from './metrics.js';
import type { JourneyInfo, JourneyReport, Period } from './report-types.js';

export async function computeNaiveReport(db: Db, journey: JourneyInfo, period: Period): Promise<JourneyReport> {
  const j = journey.journeyId;
  const inCohort = cohortFilter(sql`e.entered_at`, period);
  // Conversions attributed to J's entries (any cohort): per conversion event, of the entries whose window holds it,
  // the latest entered_at, tie greatest entry_id. Then each user's first attributed conversion.
  const attribution = sql`
    j as (select conversion_event, attribution_window_hours from journeys where journey_id = ${j}),
    attributed as (
      select distinct on (c.event_id) c.event_id, c.user_id, c.at, e.entry_id
      from conversions c
      join j on c.event = j.conversion_event
      join entries e on e.journey_id = ${j} and e.user_id = c.user_id
        and c.at >= e.entered_at
        and (e.exited_at is null or c.at <= ${attributionWindowEnd(sql`e.exited_at`, sql`j.attribution_window_hours`)})
      order by c.event_id, e.entered_at desc, e.entry_id collate "C" desc
    ),
    firsts as (
      select distinct on (user_id) user_id, entry_id from attributed order by user_id, at, event_id collate "C"
    ),
    per_entry as (select entry_id, count(*) as n from attributed group by entry_id)`;
  const entryRows = await queryRows<EntryTotals>(
    db,
    sql`with ${attribution},
        last_steps as (
          select distinct on (s.entry_id) s.entry_id, s.step_id
          from step_entries s join entries e on e.journey_id = s.journey_id and e.entry_id = s.entry_id
          where s.journey_id = ${j} and ${inCohort}
          order by s.entry_id, s.at desc, s.event_id collate "C" desc
        ),
        cohort as (
          select e.entry_id, e.user_id, e.exited_at, coalesce(p.n, 0) as conversions,
            f.entry_id is not null as converted_user, l.step_id
          from entries e
          left join per_entry p on p.entry_id = e.entry_id
          left join firsts f on f.entry_id = e.entry_id
          left join last_steps l on l.entry_id = e.entry_id
          where e.journey_id = ${j} and ${inCohort}
        )
        select coalesce(step_id, '') as last_step_id,
          count(*) as entries,
          0 as users,
          coalesce(sum(conversions), 0) as conversion_events,
          count(*) filter (where converted_user) as converted_users,
          count(*) filter (where exited_at is not null and conversions = 0) as exits
        from cohort group by coalesce(step_id, '')
        union all
        select '', 0, count(distinct user_id), 0, 0, 0 from cohort`,
  );
  const stepEntries = await queryRows<MetricRows['stepEntries'][number]>(
    db,
    sql`select s.step_id, count(*) as entry_count, count(distinct e.user_id) as entry_users
        from step_entries s join entries e on e.journey_id = s.journey_id and e.entry_id = s.entry_id
        where s.journey_id = ${j} and ${inCohort}
        group by s.step_id`,
  );
  const messages = await queryRows<MetricRows['messages'][number]>(
    db,
    sql`select m.step_id, m.status, m.platform, count(*) as n
        from messages m join entries e on e.journey_id = m.journey_id and e.entry_id = m.entry_id
        where m.journey_id = ${j} and ${inCohort}
        group by m.step_id, m.status, m.platform`,
  );
  const outcomes = await queryRows<MetricRows['outcomes'][number]>(
    db,
    sql`select o.step_id, o.outcome, count(*) as n
        from step_outcomes o join entries e on e.journey_id = o.journey_id and e.entry_id = o.entry_id
        where o.journey_id = ${j} and ${inCohort}
        group by o.step_id, o.outcome order by o.outcome collate "C"`,
  );
  return assembleReport(journey, period, { entries: entryRows, stepEntries, messages, outcomes });
}
