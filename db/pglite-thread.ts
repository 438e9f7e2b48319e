// The embedded database (PGlite) on a worker thread of its own (db/pglite-worker.mjs), behind the part of PGlite's
// interface that drizzle calls (query and transaction; exec too), and a transaction's COPY from text (db/client.ts
// copyInto). The WebAssembly server then runs beside the app's event loop instead of stalling it (a Slack
// acknowledgement is due within 3 s), and the app prepares its next statement while the database runs the one before.
import { Worker } from 'node:worker_threads';
import type { PGliteOptions, QueryOptions, Results, Transaction } from '@electric-sql/pglite';

type Request =
  | { op: 'query'; sql: string; params: unknown[] | undefined; options: WireOptions | undefined; tx: number | undefined }
  | { op: 'exec'; sql: string; options: WireOptions | undefined; tx: number | undefined }
  | { op: 'copy'; sql: string; text: string; tx: number }
  | { op: 'begin' }
  | { op: 'rollback'; tx: number }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'close' };

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: Record<string, unknown> };

/** Query options that can cross the thread: a parser is a function, so only those that keep the text travel (as type ids). */
interface WireOptions {
  rowMode?: 'array' | 'object';
  paramTypes?: number[];
  textOids: number[];
}

const PROBE = '2026-11-30 12:34:56.789+00';

export function wireOptions(options: QueryOptions | undefined): WireOptions | undefined {
  if (!options) return undefined;
  const { rowMode, parsers, paramTypes, ...rest } = options;
  const other = Object.entries(rest).filter(([, value]) => value !== undefined);
  if (other.length > 0) throw new Error(`the embedded database's thread takes no ${other.map(([k]) => k).join(', ')} option`);
  const textOids = Object.entries(parsers ?? {}).map(([oid, parse]) => {
    if (parse(PROBE) !== PROBE) throw new Error(`the embedded database's thread keeps a type's text or parses it as PGlite does; not a parser of its own (type ${oid})`);
    return Number(oid);
  });
  return { ...(rowMode ? { rowMode } : {}), ...(paramTypes ? { paramTypes } : {}), textOids };
}

/** A failure in the worker, with Postgres' fields (code, detail, constraint, …) as PGlite gave them. */
function errorFromData(data: Record<string, unknown>): Error {
  const err = new Error(String(data.message ?? 'the embedded database failed'));
  Object.assign(err, data);
  return err;
}

/** A transaction on the thread: PGlite's, and COPY … FROM '/dev/blob' with the data as text (a Blob stays behind). */
export interface ThreadTransaction extends Transaction {
  copyFrom(sql: string, text: string): Promise<void>;
}

export class PgliteThread {
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private nextId = 1;
  private stopped: Error | null = null;
  private closing: Promise<void> | null = null;
  private reportLoss: (err: Error) => void = () => {};
  /**
   * Resolves if the thread stops without close(): it ran out of memory or failed outside any query. Every query
   * fails from then on, as one to a server that went away ("unavailable", code 57P01), until the process restarts.
   */
  readonly lost = new Promise<Error>((resolve) => (this.reportLoss = resolve));

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: Reply) => this.settle(msg));
    worker.on('error', (err) => this.lose(err));
    worker.on('exit', (code) => this.lose(new Error(`exit code ${code}`)));
    // After the listeners: adding the first 'message' listener refs the worker again.
    worker.unref();
  }

  /** Starts the thread and opens the database in `dir` (in memory when undefined). */
  static async open(dir: string | undefined, options?: PGliteOptions): Promise<PgliteThread> {
    // The worker file is plain JavaScript beside this one (a build that bundles this file must keep it there), and
    // needs none of this process's loaders (tsx's, under `npm start`): execArgv is not inherited.
    const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dir, options }, execArgv: [] });
    const ready = await new Promise<{ ready: boolean; error?: Record<string, unknown> }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the embedded database's thread stopped while opening (exit code ${code})`)));
    });
    if (!ready.ready) {
      await worker.terminate();
      throw errorFromData(ready.error ?? {});
    }
    return new PgliteThread(worker);
  }

  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.queryIn<T>(undefined, sql, params, options);
  }

  exec(sql: string, options?: QueryOptions): Promise<Results[]> {
    return this.execIn(undefined, sql, options);
  }

  /**
   * Runs `callback` in a transaction, as PGlite's own does: committed when it returns, rolled back when it throws
   * (its error is the one reported) or when it called rollback(). Other queries wait for the end, as in PGlite.
   */
  async transaction<T>(callback: (tx: ThreadTransaction) => Promise<T>): Promise<T> {
    const id = (await this.request({ op: 'begin' })) as number;
    let closed = false;
    const open = () => {
      if (closed) throw new Error('Transaction is closed');
    };
    const tx: ThreadTransaction = {
      query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => {
        open();
        return this.queryIn<R>(id, sql, params, options);
      },
      exec: async (sql: string, options?: QueryOptions) => {
        open();
        return this.execIn(id, sql, options);
      },
      copyFrom: async (sql: string, text: string) => {
        open();
        await this.request({ op: 'copy', sql, text, tx: id });
      },
      rollback: async () => {
        open();
        await this.request({ op: 'rollback', tx: id });
        closed = true;
      },
      sql: () => Promise.reject(new Error("the embedded database's thread takes queries as text and parameters (query)")),
      listen: () => Promise.reject(new Error("the embedded database's thread does not forward LISTEN")),
      get closed() {
        return closed;
      },
    };
    let result: T;
    try {
      result = await callback(tx);
    } catch (err) {
      closed = true;
      await this.request({ op: 'end', tx: id, commit: false }).catch(() => {});
      throw err;
    }
    closed = true;
    await this.request({ op: 'end', tx: id, commit: true });
    return result;
  }

  /** Closes the database (after a transaction under way) and ends the thread; a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.stopped) return;
      try {
        await this.request({ op: 'close' });
      } finally {
        this.stop(new Error('the embedded database is closed'));
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }

  /** A query in transaction `tx`, or outside any when undefined. */
  private queryIn<T>(tx: number | undefined, sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.request({ op: 'query', sql, params, options: wireOptions(options), tx }) as Promise<Results<T>>;
  }

  private execIn(tx: number | undefined, sql: string, options?: QueryOptions): Promise<Results[]> {
    return this.request({ op: 'exec', sql, options: wireOptions(options), tx }) as Promise<Results[]>;
  }

  private request(req: Request): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.worker.postMessage({ ...req, id });
      } catch (err) {
        // A parameter that cannot be copied to the thread (a function, a symbol): this query fails, nothing waits.
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      // The thread keeps the process alive only while an answer is awaited, as an in-process database would.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  private lose(cause: Error): void {
    if (this.stopped) return;
    const err = Object.assign(new Error(`the embedded database's thread stopped (${cause.message}); restart the app`, { cause }), {
      code: '57P01',
    });
    this.stop(err);
    this.reportLoss(err);
  }

  private settle(msg: Reply): void {
    const waiting = this.pending.get(msg.id);
    if (!waiting) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.ok) waiting.resolve(msg.result);
    else waiting.reject(errorFromData(msg.error));
  }

  private stop(err: Error): void {
    if (this.stopped) return;
    this.stopped = err;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}
