// Keeps count of the work still running (commands, imports, digest posts) so a graceful stop can wait for it.
export interface InFlight {
  /** Runs `work` and keeps drain() waiting until it settles. */
  track<T>(work: () => Promise<T>): Promise<T>;
  /**
   * True once a stop began (markStopping or drain): /readyz says not ready, new uploads to /ingest and uploads still
   * waiting for their turn are answered 503. Slack requests are still served until the server has closed.
   */
  readonly stopping: boolean;
  readonly size: number;
  /** Marks the app as stopping, at the first moment of a stop. */
  markStopping(): void;
  /** Marks the app as stopping and resolves when everything tracked has settled. */
  drain(): Promise<void>;
}

export function createInFlight(): InFlight {
  const running = new Set<Promise<unknown>>();
  let stopping = false;
  return {
    track<T>(work: () => Promise<T>): Promise<T> {
      const p = work();
      running.add(p);
      const forget = () => running.delete(p);
      p.then(forget, forget);
      return p;
    },
    get stopping() {
      return stopping;
    },
    get size() {
      return running.size;
    },
    markStopping() {
      stopping = true;
    },
    async drain() {
      stopping = true;
      // A request that slipped in while the servers closed is tracked too: wait until the set stays empty.
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
