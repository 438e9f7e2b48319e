// StatementPipeline: statements run one after another in the order added, the caller goes on while they run, and
// a failure skips the statements after it.
import { describe, expect, it } from 'vitest';
import { StatementPipeline } from '../../db/client.js';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('StatementPipeline', () => {
  it('runs statements in the order added, each after the one before has finished, while the caller goes on', async () => {
    const pipe = new StatementPipeline();
    const log: string[] = [];
    const statement = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await later(ms, null);
      log.push(`end ${name}`);
    };
    await pipe.add(statement('a', 20));
    // The first statement was sent before add() returned; the caller prepares the next one meanwhile.
    expect(log).toEqual(['start a']);
    await pipe.add(statement('b', 1));
    await pipe.add(statement('c', 1));
    expect(log).toEqual(['start a']);
    await pipe.done();
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a failed statement skips the ones after it, and done() throws its error', async () => {
    const pipe = new StatementPipeline();
    const ran: string[] = [];
    await pipe.add(async () => void ran.push('a'));
    await pipe.add(async () => {
      ran.push('b');
      throw new Error('b failed');
    });
    await pipe.add(async () => void ran.push('c'));
    await expect(pipe.done()).rejects.toThrow('b failed');
    expect(ran).toEqual(['a', 'b']);
  });
});
