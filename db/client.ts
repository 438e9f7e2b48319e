// Opens the database (a Postgres server, or embedded PGlite in a folder or in memory) and migrates it.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import type { PGlite } from '@electric-sql/pglite';
import * as schema from './schema.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import { PgliteThread, type ThreadTransaction } from './pglite-thread.js';

/** One type for both drivers (and for transactions), so every query runs on Postgres and PGlite alike. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DbConfig =
  | { kind: 'postgres'; url: string; poolSize?: number }
  /** `dir` undefined: an in-memory database (tests). */
  | { kind: 'pglite'; dir?: string };

export interface DbHandle {
  db: Db;
  kind: DbConfig['kind'];
  close(): Promise<void>;
  /** Embedded database in a folder: tells a refused second process where the running app takes files. */
  noteIngestUrl?(url: string): void;
  /**
   * Embedded database: resolves if its thread stops without close() (out of memory, say). Every query fails from
   * then on as "unavailable"; the app exits so that its supervisor starts it again.
   */
  lost?: Promise<Error>;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
/** Any constant: every process migrating this database takes the same advisory lock. */
const MIGRATION_LOCK_KEY = 7_316_001;

export async function createDb(config: DbConfig, notice: (msg: string) => void = () => {}): Promise<DbHandle> {
  return config.kind === 'postgres' ? openPostgres(config.url, config.poolSize ?? 10) : openPglite(config.dir, notice);
}

async function openPostgres(url: string, poolSize: number): Promise<DbHandle> {
  // A server that is down or unreachable fails a query within seconds (an answer "try again shortly")
  // instead of leaving it waiting; keepAlive notices a connection dropped by the network.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, keepAlive: true });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor a checked-out one (a transaction, an export's COPY): pg-pool listens only while a client is idle, and an
  // 'error' event with no listener is an uncaught exception. The work in flight fails with the error instead, and
  // the client, no longer queryable, is dropped from the pool when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  const lockClient = await pool.connect();
  try {
    await lockClient.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    // On the lock's own connection: a pool of one has no second one to give the migrator.
    await migratePg(drizzlePg(lockClient, { schema }), { migrationsFolder });
  } finally {
    await lockClient.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    lockClient.release();
  }
  // Imports stage their largest kinds of rows in temporary tables (db/import/write-batch.ts): a role without the
  // privilege would fail every import batch, so it is said at start, with the statement that grants it.
  const { rows } = await pool.query<{ temp: boolean; role: string; database: string }>(
    `select has_database_privilege(current_database(), 'TEMPORARY') as temp, current_user as role, current_database() as database`,
  );
  if (rows[0] && !rows[0].temp) {
    await pool.end().catch(() => {});
    const { role, database } = rows[0];
    throw new Error(
      `The role ${role} may not create temporary tables in the database ${database}, and imports stage their rows in ` +
        `them: grant it with GRANT TEMPORARY ON DATABASE "${database}" TO "${role}";`,
    );
  }
  return { db, kind: 'postgres', close: () => pool.end() };
}

/**
 * PGlite's drizzle driver is loaded only when an embedded database is opened: a process on a Postgres server then
 * never loads it nor PGlite's bundle (a few MiB of resident memory, and start-up time). PGlite itself runs on a thread
 * of its own (db/pglite-thread.ts).
 */
async function loadPgliteDriver() {
  const [{ drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  return { drizzlePglite, migratePglite };
}

async function openPglite(dir: string | undefined, notice: (msg: string) => void): Promise<DbHandle> {
  let lock: DirLock | undefined;
  if (dir !== undefined) {
    const abs = path.resolve(dir);
    // The lock file lies beside the folder: in a fresh checkout neither exists yet (./.data/pglite).
    mkdirSync(path.dirname(abs), { recursive: true });
    lock = acquireDirLock(abs, notice);
    try {
      moveAsideHalfInitialised(abs, notice);
      await initialiseAtomically(abs);
    } catch (err) {
      lock.release();
      throw err;
    }
  }
  let client: PgliteThread | undefined;
  try {
    const { drizzlePglite, migratePglite } = await loadPgliteDriver();
    // The WebAssembly server runs beside the event loop, not in it: a long statement (a million-row export's sort
    // takes seconds) would otherwise hold up everything else this process does, a Slack acknowledgement included.
    client = await PgliteThread.open(dir === undefined ? undefined : path.resolve(dir));
    // drizzle's PGlite driver calls only query and transaction, which the thread answers as PGlite does.
    const orm = drizzlePglite({ client: client as unknown as PGlite, schema });
    await migratePglite(orm, { migrationsFolder });
    const opened = client;
    return {
      db: orm as unknown as Db,
      kind: 'pglite',
      lost: opened.lost,
      ...(lock ? { noteIngestUrl: (url: string) => lock.note({ ingest_url: url }) } : {}),
      close: async () => {
        try {
          await opened.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (err) {
    // A thread left open would keep the folder open after its lock is gone.
    await client?.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

/**
 * PGlite writes a new database folder file by file (PG_VERSION among the first), so a first start killed
 * meanwhile would leave a folder that aborts every later start. It is built beside its place and renamed in:
 * the folder exists whole or not at all. A leftover of a killed build is removed (the lock is held).
 */
async function initialiseAtomically(dir: string): Promise<void> {
  if (existsSync(dir) && readdirSync(dir).length > 0) return;
  const building = `${dir}.initialising`;
  rmSync(building, { recursive: true, force: true });
  const client = await PgliteThread.open(building);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
}

/** A folder left half-written by an older start (no PG_VERSION or pg_control) aborts every later start. */
function moveAsideHalfInitialised(dir: string, notice: (msg: string) => void): void {
  if (!existsSync(dir) || readdirSync(dir).length === 0) return;
  // Both are written only once initdb has run: a folder with files but without either was cut off before that.
  const missing = ['PG_VERSION', 'global/pg_control'].filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length === 0) return;
  const aside = `${dir}.incomplete-${Date.now()}`;
  renameSync(dir, aside);
  notice(`The database folder ${dir} was never fully initialised (no ${missing.join(', no ')}); moved it to ${aside} and starting fresh.`);
}

/**
 * The node-postgres pool under a database opened on a Postgres server, for what drizzle does not offer (a COPY
 * stream needs a connection of its own); null on PGlite and for a transaction, which run through drizzle only.
 */
export function postgresPool(db: Db): pg.Pool | null {
  // drizzle keeps the driver's client on the database object as $client; Db, shared by both drivers, leaves it out.
  const client = (db as { $client?: unknown }).$client;
  return client instanceof pg.Pool ? client : null;
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** `pg` returns bigint/numeric as strings, PGlite as numbers: every count goes through here. */
export function toCount(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`not a count: ${String(value)}`);
  return n;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = new RegExp(COPY_SPECIAL.source, 'g');
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Rows in COPY's text format: fields apart by tabs, a row a line, null as \N, and in text the four characters that
 * would end a field or a row, or start an escape (backslash, newline, carriage return, tab), escaped. The text must be
 * storable (no U+0000, no lone surrogate half: the import rejects such lines).
 */
export function copyText(rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i] ?? null;
      if (i > 0) out += '\t';
      if (v === null) out += '\\N';
      else if (typeof v === 'number') out += String(v);
      else out += COPY_SPECIAL.test(v) ? v.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : v;
    }
    out += '\n';
  }
  return out;
}

/**
 * COPY `text` (copyText's format) into `table (columns)`, inside the transaction `tx`, on its own connection: a
 * node-postgres client's COPY FROM STDIN, or the PGlite thread's COPY FROM '/dev/blob'. Reading rows this way costs the
 * server a fraction of reading them from JSON.
 */
export async function copyInto(tx: Db, table: string, columns: readonly string[], text: string): Promise<void> {
  if (text === '') return;
  // drizzle keeps a transaction's connection on its session; Db, shared by both drivers and by transactions, leaves it out.
  const client = (tx as { session?: { client?: unknown } }).session?.client;
  const target = `${table} (${columns.join(', ')})`;
  if (client instanceof pg.Client) {
    await pipeline(Readable.from([text]), client.query(copyFromStdin(`copy ${target} from stdin`)));
  } else if (typeof (client as Partial<ThreadTransaction> | undefined)?.copyFrom === 'function') {
    await (client as ThreadTransaction).copyFrom(`copy ${target} from '/dev/blob'`, text);
  } else {
    throw new Error('copyInto runs in a transaction (of either database)');
  }
}

/** Passes a JS array as one SQL parameter (drizzle would otherwise expand it into a list). */
export function arrayParam(values: readonly unknown[]): SQL {
  return sql`${sql.param(values)}`;
}

/**
 * Statements of one connection (a transaction) run in the order they are added, each sent as soon as the one before
 * it finishes, while the caller prepares the next: the database and this process work side by side instead of
 * taking turns. A failed statement skips the ones after it, and done() throws its error.
 */
export class StatementPipeline {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queues a statement, then yields once, so that a statement with nothing before it is sent before the caller goes on. */
  async add(run: () => Promise<unknown>): Promise<void> {
    const next = this.tail.then(run);
    // Observed by done(); without this a failure would count as unhandled until then.
    next.catch(() => {});
    this.tail = next;
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Waits for every statement added; throws the first failure. */
  async done(): Promise<void> {
    await this.tail;
  }
}
