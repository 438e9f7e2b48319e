// Opening a Postgres database: the migration runs on the connection that holds the migration lock.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb, queryRows } from '../../db/client.js';
import { testDatabaseUrl } from '../support/test-db.js';

describe.skipIf(!testDatabaseUrl)('createDb on a Postgres server', () => {
  it('migrates and answers with a pool of one connection', async () => {
    const name = `ja_test_pool1_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    try {
      const url = new URL(testDatabaseUrl!);
      url.pathname = `/${name}`;
      const handle = await createDb({ kind: 'postgres', url: url.toString(), poolSize: 1 });
      try {
        const rows = await queryRows<{ n: unknown }>(handle.db, sql`select count(*) as n from journeys`);
        expect(Number(rows[0]?.n)).toBe(0);
      } finally {
        await handle.close();
      }
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  }, 20_000);
});
