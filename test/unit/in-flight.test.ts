// The stop's bookkeeping: stopping is marked at a stop's first moment, and a drain waits for all work tracked
// before it settles, also work tracked after the stop began (a request that arrived while the server closed).
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../src/in-flight.js';

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('in-flight work', () => {
  it('markStopping marks the stop at once, without waiting for anything', () => {
    const inFlight = createInFlight();
    void inFlight.track(() => later(1_000));
    expect(inFlight.stopping).toBe(false);
    inFlight.markStopping();
    expect(inFlight.stopping).toBe(true);
    expect(inFlight.size).toBe(1);
  });

  it('a drain after the stop began waits for work tracked since, and for work tracked while it waits', async () => {
    const inFlight = createInFlight();
    inFlight.markStopping();
    const finished: string[] = [];
    void inFlight.track(async () => {
      await later(30);
      finished.push('tracked after the stop began');
      // More work, tracked while the drain already waits.
      void inFlight.track(async () => {
        await later(30);
        finished.push('tracked during the drain');
      });
    });
    await inFlight.drain();
    expect(finished).toEqual(['tracked after the stop began', 'tracked during the drain']);
    expect(inFlight.size).toBe(0);
  });
});
