// Opens a fresh, empty database for one test file: in-memory PGlite, or when TEST_DATABASE_URL is set a
// database of its own on that Postgres server (created here, dropped on close), so no run sees another's data.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type DbConfig, type DbHandle } from '../../db/client.js';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;

export interface TestDb extends DbHandle {
  /** The configuration that opens this same database (for child processes such as the CLI). */
  config: DbConfig;
  /** Environment variables that point a child process at this database. */
  env: Record<string, string>;
}

export async function openTestDb(options: { pgliteDir?: string } = {}): Promise<TestDb> {
  if (!testDatabaseUrl) {
    const config: DbConfig = { kind: 'pglite', dir: options.pgliteDir };
    const handle = await createDb(config);
    return { ...handle, config, env: options.pgliteDir ? { PGLITE_DIR: options.pgliteDir } : {} };
  }
  const name = `ja_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  const config: DbConfig = { kind: 'postgres', url: url.toString(), poolSize: 4 };
  const handle = await createDb(config);
  return {
    ...handle,
    config,
    env: { DATABASE_URL: url.toString() },
    close: async () => {
      await handle.close();
      const dropper = new pg.Client({ connectionString: testDatabaseUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

/** Objects as the NDJSON lines importEvents reads, one line each. */
export async function* eventLines(objects: readonly unknown[]): AsyncIterable<string> {
  for (const o of objects) yield JSON.stringify(o);
}
