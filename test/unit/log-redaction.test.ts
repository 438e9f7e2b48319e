// What reaches a log line: credentials masked by value and by shape, driver errors stripped of the values they carry.
import { describe, expect, it } from 'vitest';
import { createLogger, safeError, scrubText, secretsOf } from '../../src/logger.js';

describe('scrubText', () => {
  it.each([
    ['token xoxb-123-456-abcDEF in a message', 'xoxb-123-456-abcDEF'],
    ['app token xapp-1-A0-123-abc', 'xapp-1-A0-123-abc'],
    ['Authorization: Bearer s3cr3t-t0ken-value', 's3cr3t-t0ken-value'],
    ['x-slack-signature: v0=0123456789abcdef0123456789abcdef', 'v0=0123456789abcdef'],
    ['connect postgres://app:hunter2pass@db:5432/journeys failed', 'hunter2pass'],
    ['{"token":"legacy-verification","response_url":"https://hooks.slack.com/commands/T1/2/abc"}', 'legacy-verification'],
    ['response_url=https%3A%2F%2Fhooks.slack.com%2Fx&token=abc123', 'abc123'],
  ])('masks the credential in %j', (text, secret) => {
    expect(scrubText(text)).not.toContain(secret);
    expect(scrubText(text)).toContain('[redacted]');
  });

  it('masks configured secret values wherever they appear', () => {
    expect(scrubText('the secret is plain-looking-value, see', ['plain-looking-value'])).toBe('the secret is [redacted], see');
  });
});

describe('safeError', () => {
  it('drops the parameters drizzle appends to a failed query (they hold External IDs)', () => {
    const err = new Error('Failed query: insert into users (external_id) values ($1)\nparams: PERSON-anna@example.com');
    expect(JSON.stringify(safeError(err))).not.toContain('PERSON-anna');
  });

  it('keeps the code of a driver error but not its detail or the value a data exception quotes', () => {
    const unique = Object.assign(new Error('duplicate key value violates unique constraint "users_external_id_unique"'), {
      code: '23505',
      detail: 'Key (external_id)=(PERSON-bob) already exists.',
    });
    const data = Object.assign(new Error('invalid input syntax for type integer: "PERSON-carl"'), { code: '22P02' });
    const shown = JSON.stringify([safeError(unique), safeError(data)]);
    expect(shown).not.toContain('PERSON-');
    expect(shown).toContain('23505');
    expect(shown).toContain('invalid input syntax for type integer');
  });

  it('follows causes, and keeps stack frames but not the stack’s message line', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432 for PERSON-dora');
    const err = new Error('Failed query: select 1\nparams: PERSON-dora', { cause });
    const safe = safeError(err);
    expect(safe.cause?.message).toContain('ECONNREFUSED');
    expect(safe.stack).toMatch(/^\s+at /);
    expect(JSON.stringify(safe.stack)).not.toContain('PERSON-dora');
  });
});

describe('createLogger', () => {
  it('writes JSON lines with level and message, masks secrets and redacts personal fields', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l), { secrets: secretsOf({ SLACK_BOT_TOKEN: 'xoxb-zzz', INGEST_TOKEN: 'ingest-token-abcdef', DATABASE_URL: 'postgres://u:dbpass123@h/db' }) });
    log.info('started with ingest-token-abcdef', { external_id: 'PERSON-eve', accepted: 3 });
    log.error('query failed on postgres://u:dbpass123@h/db', new Error('boom ingest-token-abcdef'));
    log.debug('not filtered at debug');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.level)).toEqual(['info', 'error', 'debug']);
    expect(parsed[0]).toMatchObject({ accepted: 3, external_id: '[redacted]' });
    const all = lines.join('\n');
    for (const secret of ['ingest-token-abcdef', 'dbpass123', 'PERSON-eve']) expect(all).not.toContain(secret);
  });

  it('leaves out what is below its level', () => {
    const lines: string[] = [];
    const log = createLogger('warn', (l) => lines.push(l));
    log.info('quiet');
    log.warn('loud');
    expect(lines).toHaveLength(1);
  });
});
