// The embedded database (PGlite) on a thread of its own, serving db/pglite-thread.ts: queries, transactions,
// a transaction's COPY from text, close.
// Plain JavaScript so that every runner (tsx, vitest, a compiled build) starts it without a TypeScript loader.
import { Blob } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const port = parentPort;
if (!port) throw new Error('db/pglite-worker.mjs runs as a worker thread (db/pglite-thread.ts starts it)');

/** Thrown into a transaction's callback to end it with a rollback; never reported as a failure. */
const ROLLBACK = Symbol('rollback');
const identity = (value) => value;

/** Query options as they crossed the thread: parsers travel as the type ids whose text is kept as is. */
function queryOptions(options) {
  if (!options) return undefined;
  const parsers = {};
  for (const oid of options.textOids ?? []) parsers[oid] = identity;
  return {
    ...(options.rowMode ? { rowMode: options.rowMode } : {}),
    ...(options.paramTypes ? { paramTypes: options.paramTypes } : {}),
    parsers,
  };
}

/** An error as plain data (a structured clone keeps only message and stack of an Error): Postgres' fields too. */
function errorData(err) {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const data = { name: err.name, message: err.message, stack: err.stack };
  for (const [key, value] of Object.entries(err)) {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    if (typeof value === 'object' && value !== null) continue;
    data[key] = value;
  }
  return data;
}

const reply = (id, result) => port.postMessage({ id, ok: true, result });
const fail = (id, err) => port.postMessage({ id, ok: false, error: errorData(err) });

let db;
/** Open transactions by id: the PGlite transaction, how to end it, and the promise of its end. */
const transactions = new Map();

function target(txId) {
  if (txId === undefined) return db;
  const open = transactions.get(txId);
  if (!open) throw new Error(`no open transaction ${txId}`);
  return open.tx;
}

function begin(id) {
  let end;
  const ended = new Promise((resolve, reject) => (end = { resolve, reject }));
  // Observed below; a rollback must not count as unhandled in the meantime.
  ended.catch(() => {});
  let begun = false;
  const done = db.transaction(async (tx) => {
    transactions.set(id, { tx, end, done });
    begun = true;
    reply(id, id);
    await ended;
  });
  done.catch((err) => {
    if (!begun) fail(id, err);
  });
}

async function finish(id, txId, commit) {
  const open = transactions.get(txId);
  if (!open) throw new Error(`no open transaction ${txId}`);
  transactions.delete(txId);
  if (commit) open.end.resolve();
  else open.end.reject(ROLLBACK);
  try {
    await open.done;
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
  reply(id, null);
}

async function handle(msg) {
  const { id, op } = msg;
  try {
    switch (op) {
      case 'query':
        return reply(id, await target(msg.tx).query(msg.sql, msg.params, queryOptions(msg.options)));
      case 'exec':
        return reply(id, await target(msg.tx).exec(msg.sql, queryOptions(msg.options)));
      case 'copy':
        // COPY … FROM '/dev/blob' reads PGlite's blob option; the text crossed the thread as a string.
        await target(msg.tx).query(msg.sql, [], { blob: new Blob([msg.text]) });
        return reply(id, null);
      case 'begin':
        return begin(id);
      case 'rollback':
        return reply(id, await target(msg.tx).rollback());
      case 'end':
        return await finish(id, msg.tx, msg.commit);
      case 'close':
        await db.close();
        reply(id, null);
        port.close();
        return;
      default:
        throw new Error(`unknown request ${op}`);
    }
  } catch (err) {
    fail(id, err);
  }
}

try {
  db = new PGlite(workerData.dir, workerData.options);
  await db.waitReady;
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: errorData(err) });
  port.close();
}
port.on('message', (msg) => void handle(msg));
