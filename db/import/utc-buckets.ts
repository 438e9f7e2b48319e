// The UTC day and hour buckets of the rollups and revisit cells, in SQL: one definition for the import's upkeep and
// for the rebuilds.
import { sql, type SQL } from 'drizzle-orm';

/** A UTC midnight that no stored time precedes: the import accepts the years 0001 to 9999. */
const ORIGIN = sql.raw(`timestamptz '0001-01-01 00:00:00+00'`);

/** Each row once per grain: `g.grain` names it ('day', 'hour'), `g.stride` is its length. */
export const GRAINS = sql`cross join (values ('day', interval '1 day'), ('hour', interval '1 hour')) as g(grain, stride)`;

/**
 * The start of the UTC bucket of the row's grain (with GRAINS) that `at` falls in. The same instant as
 * date_trunc(grain, at, 'UTC'), counted in whole strides from a UTC midnight instead of converted to a time zone
 * row by row: ~0.08 µs a row against ~0.45 µs on PGlite (a million rows).
 */
export const bucketOf = (at: SQL) => sql`date_bin(g.stride, ${at}, ${ORIGIN})`;

/** The UTC day that `at` falls in, as bucketOf counts it. */
export const utcDay = (at: SQL) => sql`date_bin(interval '1 day', ${at}, ${ORIGIN})`;
