// Imports NDJSON journey events (EVENTS.md): validates every line, skips duplicates, rejects bad lines
// with a reason, and writes the rest in batched transactions together with the derived state they change.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { eq, sql } from 'drizzle-orm';
import type pg from 'pg';
import { arrayParam, postgresPool, queryRows, toCount, type Db } from '../client.js';
import { imports, journeys, steps } from '../schema.js';
import { recomputeAllDerivedState, recomputeJourney } from './derived-state.js';
import { parseEventLine, type EntryEvent, type ImportEvent, type JourneyDef, type JourneyEntryEvent } from './parse-event.js';
import { emptyWrites, writeBatch, type BatchWrites, type KnownEntry } from './write-batch.js';

export interface Rejection {
  line: number;
  reason: string;
}

export interface ImportOptions {
  /** Where the lines came from, for the import record (a file path, "stdin", "http"). */
  source: string;
  /** Import nothing at all if any line is bad. */
  strict?: boolean;
  /** Lines per transaction (default 20,000). */
  batchSize?: number;
  /**
   * Called for every rejected line with the line unchanged, so it can be fixed and imported again; a line that is
   * not UTF-8 comes with its bytes too (rawLine then has U+FFFD in place of the bad ones).
   */
  onRejected?: (rawLine: string, rejection: Rejection, rawBytes?: Buffer) => void | Promise<void>;
  onProgress?: (progress: ImportProgress) => void;
  /** How many rejections the summary keeps (all are counted and passed to onRejected). */
  keepRejections?: number;
  /**
   * Stops the import before its next line (SIGINT in the CLI): the batches under way finish, the import is recorded
   * as failed, its temporary files are removed, and importEvents rejects with ImportStopped.
   */
  signal?: AbortSignal;
}

/** The import was stopped through its signal: what committed before stays, and importing the file again completes it. */
export class ImportStopped extends Error {
  override name = 'ImportStopped';
}

export interface ImportProgress {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface ImportSummary extends ImportProgress {
  importId: number;
  /** completed, or refused when strict mode found a bad line and wrote nothing. */
  status: 'completed' | 'refused';
  /** In line order. */
  rejections: Rejection[];
}

interface JourneyInfo {
  steps: Set<string>;
  reentry: boolean;
  conversionEvent: string | null;
  windowHours: number;
}

interface Line {
  n: number;
  raw: string;
  /** Set when the line's bytes are not UTF-8 (raw is then only their reading with U+FFFD). */
  undecodable?: UndecodableLine;
}

interface PendingEvent extends Line {
  event: Exclude<ImportEvent, JourneyDef>;
}

class StrictRefusal extends Error {}

/** A batch to write: its lines, how to open its transaction, the batch before it, and whether it claims ahead. */
interface BatchJob {
  batch: PendingEvent[];
  inTx: InTransaction;
  previous: BatchWriting | null;
  /** Called once the batch's event_ids are claimed (or it failed before). */
  markClaimed: () => void;
  ahead: boolean;
}

/** A batch being written: when its event_ids are claimed, and when it has committed (or failed). */
interface BatchWriting {
  claimed: Promise<void>;
  done: Promise<void>;
}

const entryKey = (journeyId: string, entryId: string) => `${journeyId}\u0000${entryId}`;
/** Serialises import batches across processes: their lookups and writes must not interleave. */
export const IMPORT_LOCK_KEY = 7_316_002;
/**
 * Held shared by every batch of a plain import, which claims its event_ids before it takes the import lock, and
 * exclusively by a strict import for its whole transaction, whose later batches claim under the import lock: so a
 * claim under the import lock never waits on an id claimed by a batch that in turn waits for that lock. Taken before
 * the import lock, everywhere.
 */
const CLAIM_GATE_KEY = 7_316_003;

/** The locks a strict import holds for its whole transaction: the gate exclusively, then the import lock. */
async function lockForStrictImport(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_GATE_KEY})`);
  await tx.execute(sql`select pg_advisory_xact_lock(${IMPORT_LOCK_KEY})`);
}

/**
 * Recomputes every derived column and rollup from the stored rows, in one transaction that holds a strict import's
 * locks, so no import batch runs beside it. The repair for a database whose derived state is in doubt: say, after a
 * process of an older version imported into a database that a newer one had migrated (`npm run cli -- repair`).
 */
export async function repairDerivedState(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await lockForStrictImport(tx as unknown as Db);
    await recomputeAllDerivedState(tx as unknown as Db);
  });
}

/** The pools on which an import of this process claims ahead (at most one import per pool does). */
const poolsClaimingAhead = new WeakSet<object>();

export async function importEvents(db: Db, lines: AsyncIterable<InputLine>, options: ImportOptions): Promise<ImportSummary> {
  const [record] = await db
    .insert(imports)
    .values({ source: options.source, strict: options.strict ?? false, status: 'running' })
    .returning({ id: imports.id });
  const importId = record!.id;
  // Claiming ahead needs a second connection while a batch writes: on Postgres with a pool of two or more. (PGlite
  // runs one transaction at a time; a pool of one would make the next batch wait for a connection and time out.)
  const pool = postgresPool(db);
  const run = new ImportRun(importId, options, !options.strict && pool !== null && (pool.options.max ?? 10) >= 2 ? pool : null);
  try {
    if (options.strict) {
      try {
        await db.transaction(async (tx) => {
          // One transaction for the whole file, serialised with every other import from its start.
          await lockForStrictImport(tx as unknown as Db);
          await run.execute(lines, (fn) => fn(tx as unknown as Db));
          if (run.progress.rejected > 0) throw new StrictRefusal();
        });
      } catch (err) {
        if (!(err instanceof StrictRefusal)) throw err;
        await db
          .update(imports)
          .set({ status: 'refused', finishedAt: sql`now()`, accepted: 0, duplicates: 0, rejected: run.progress.rejected })
          .where(eq(imports.id, importId));
        return { importId, status: 'refused', ...run.progress, accepted: 0, duplicates: 0, rejections: run.sortedRejections() };
      }
    } else {
      await run.execute(lines, (fn) => db.transaction((tx) => fn(tx as unknown as Db)));
    }
    await db
      .update(imports)
      .set({ status: 'completed', finishedAt: sql`now()`, ...run.counters() })
      .where(eq(imports.id, importId));
    return { importId, status: 'completed', ...run.progress, rejections: run.sortedRejections() };
  } catch (err) {
    // accepted and duplicates stay as the last committed transaction saved them (each batch saves them in its own):
    // the batch that failed counted lines it did not store. rejected is every rejection reported, as the rejects
    // file lists them: a batch reports its rejections once it has committed.
    await db
      .update(imports)
      .set({ status: 'failed', finishedAt: sql`now()`, rejected: run.reportedRejections })
      .where(eq(imports.id, importId))
      .catch(() => {});
    throw err;
  } finally {
    run.stopClaimingAhead();
    run.cleanup();
  }
}

type InTransaction = (fn: (tx: Db) => Promise<void>) => Promise<void>;

class ImportRun {
  readonly progress: ImportProgress = { lines: 0, accepted: 0, duplicates: 0, rejected: 0 };
  /** Rejections passed on to the caller (progress counts a batch's before it commits, and reports them after). */
  reportedRejections = 0;
  private readonly rejections: Rejection[] = [];
  private journeys = new Map<string, JourneyInfo>();
  private batch: PendingEvent[] = [];
  private readonly batchSize: number;
  /**
   * The batch being written while the next one is parsed (the database and this process work side by side), and
   * the one before it, which may still be writing while the latest claims its event_ids (see writeInTransaction).
   */
  private inflight: BatchWriting | null = null;
  private earlier: BatchWriting | null = null;
  private claimingAhead = false;
  private spoolDir: string | undefined;
  private spoolCount = 0;
  private pass = 0;
  // Deferral: a line whose journey or entry is not known yet waits for a later pass. Once a line waits, the later
  // lines it competes with wait too (the same event_id; lines of the same journey; another exit or event of the
  // same entry; another entry line with the same entry_id or, without re-entry, the same user), so the earlier
  // line still wins. An entry line never waits for the events that wait for it.
  private deferredJourneys = new Set<string>();
  private deferredEntries = new Set<string>();
  private deferredEntryLines = new Set<string>();
  private deferredEventIds = new Set<string>();
  private spool: WriteStream | undefined;
  private deferredThisPass = 0;
  private finalPass = false;

  constructor(
    private readonly importId: number,
    private readonly options: ImportOptions,
    /** The pool on which batches may claim their event_ids while the batch before writes (see claimAhead). */
    private readonly aheadPool: pg.Pool | null,
  ) {
    // 20,000 lines a transaction: per-statement costs (planning the batch statements, commit) fall below per-row
    // costs, and a batch still holds only a few MB.
    this.batchSize = options.batchSize ?? 20_000;
  }

  /**
   * Whether the next batch claims its event_ids while the batch before it writes (see writeInTransaction). One import
   * per pool does at a time: imports take turns at the import lock anyway, and a second connection for each of
   * several imports at once would fill the pool that slash commands and digests need. Asked at every batch, so an
   * import takes over once the one that claimed ahead has ended.
   */
  private claimAhead(): boolean {
    const pool = this.aheadPool;
    if (this.claimingAhead || pool === null || poolsClaimingAhead.has(pool)) return this.claimingAhead;
    // Only with a connection to spare: a second one that must wait for the pool could time out.
    if (pool.idleCount > 0 || pool.totalCount < (pool.options.max ?? 10)) {
      poolsClaimingAhead.add(pool);
      this.claimingAhead = true;
    }
    return this.claimingAhead;
  }

  stopClaimingAhead(): void {
    if (this.claimingAhead) poolsClaimingAhead.delete(this.aheadPool!);
    this.claimingAhead = false;
  }

  counters() {
    const { accepted, duplicates, rejected } = this.progress;
    return { accepted, duplicates, rejected };
  }

  sortedRejections(): Rejection[] {
    return [...this.rejections].sort((a, b) => a.line - b.line);
  }

  cleanup(): void {
    this.spool?.destroy();
    if (this.spoolDir) rmSync(this.spoolDir, { recursive: true, force: true });
  }

  async execute(lines: AsyncIterable<InputLine>, inTx: InTransaction): Promise<void> {
    try {
      let source: AsyncIterable<Line> = numbered(lines);
      for (;;) {
        this.startPass();
        let read = 0;
        for await (const line of source) {
          read++;
          const waiting = this.take(line, inTx);
          if (waiting) await waiting;
        }
        await this.flush(inTx);
        await this.settle();
        const spooled = await this.endPass();
        if (spooled === undefined) return;
        // A pass in which every line waited again makes no progress: the next one rejects what is unresolved.
        this.finalPass = this.deferredThisPass === read;
        source = readSpool(spooled);
      }
    } finally {
      // Never leave a batch transaction running behind an error: the caller records the import as failed.
      await this.inflight?.done.catch(() => {});
    }
  }

  private startPass(): void {
    this.pass++;
    this.deferredJourneys.clear();
    this.deferredEntries.clear();
    this.deferredEntryLines.clear();
    this.deferredEventIds.clear();
    this.deferredThisPass = 0;
    if (this.pass > 1) this.spoolCount++;
  }

  /** Closes this pass's spool; returns its path when lines wait for another pass. */
  private async endPass(): Promise<string | undefined> {
    const spool = this.spool;
    this.spool = undefined;
    if (!spool) return undefined;
    spool.end();
    await once(spool, 'finish');
    return spool.path as string;
  }

  /**
   * Takes one line. Returns a promise only when the line must be waited for (a rejection reported, a journey line, a
   * full batch): most lines cost no promise and no turn of the microtask queue.
   */
  private take(line: Line, inTx: InTransaction): Promise<void> | undefined {
    if (this.options.signal?.aborted) throw new ImportStopped(`stopped before line ${line.n}`);
    if (line.raw.trim() === '') return;
    // Lines read again from the spool were counted in the first pass.
    if (this.pass === 1) this.progress.lines++;
    if (line.undecodable) {
      this.progress.rejected++;
      return this.reportRejection(line, line.undecodable.reason);
    }
    const parsed = parseEventLine(line.raw);
    if (!parsed.ok) {
      this.progress.rejected++;
      return this.reportRejection(line, parsed.reason);
    }
    if (parsed.event.type === 'journey') return this.takeJourney(line, parsed.event, inTx);
    this.batch.push({ n: line.n, raw: line.raw, event: parsed.event });
    if (this.batch.length >= this.batchSize) return this.flush(inTx);
  }

  private async takeJourney(line: Line, def: JourneyDef, inTx: InTransaction): Promise<void> {
    await this.flush(inTx);
    await this.settle();
    let reason: string | null = null;
    await inTx(async (tx) => {
      // Serialised with every import's batches: a redefinition recomputes rows and rollups that a batch writes
      // too (concurrently, the two could deadlock), and its check for used steps must see every stored event.
      await tx.execute(sql`select pg_advisory_xact_lock(${IMPORT_LOCK_KEY})`);
      await this.loadJourneys(tx);
      reason = await this.applyJourney(tx, def);
      if (reason === null) this.progress.accepted++;
      await this.saveProgress(tx);
    });
    if (reason !== null) {
      this.progress.rejected++;
      await this.reportRejection(line, reason);
    }
  }

  private async reportRejection(line: Line, reason: string): Promise<void> {
    this.reportedRejections++;
    const rejection = { line: line.n, reason };
    if (this.rejections.length < (this.options.keepRejections ?? 1000)) this.rejections.push(rejection);
    await this.options.onRejected?.(line.raw, rejection, line.undecodable?.bytes);
  }

  private async defer(item: PendingEvent): Promise<void> {
    this.deferredThisPass++;
    if (!this.spool) {
      this.spoolDir ??= mkdtempSync(path.join(tmpdir(), 'journey-import-'));
      this.spool = createWriteStream(path.join(this.spoolDir, `pass-${this.spoolCount + 1}.ndjson`));
    }
    if (!this.spool.write(`${JSON.stringify({ n: item.n, raw: item.raw })}\n`)) await once(this.spool, 'drain');
  }

  /**
   * The journeys as stored: read under the import lock before each batch and each journey line, so the rules apply
   * the definitions another import may have changed since this one started.
   */
  private async loadJourneys(db: Db): Promise<void> {
    const rows = await db.select().from(journeys);
    const stepRows = await db.select({ journeyId: steps.journeyId, stepId: steps.stepId }).from(steps);
    this.journeys = new Map();
    for (const j of rows) {
      this.journeys.set(j.journeyId, {
        steps: new Set(),
        reentry: j.reentry,
        conversionEvent: j.conversionEvent,
        windowHours: j.attributionWindowHours,
      });
    }
    for (const s of stepRows) this.journeys.get(s.journeyId)?.steps.add(s.stepId);
  }

  private async saveProgress(tx: Db): Promise<void> {
    await tx.update(imports).set(this.counters()).where(eq(imports.id, this.importId));
    this.options.onProgress?.({ ...this.progress });
  }

  /** Defines or replaces a journey; returns why it was rejected, or null. */
  private async applyJourney(tx: Db, def: JourneyDef): Promise<string | null> {
    const existing = this.journeys.get(def.journey_id);
    const newSteps = new Set(def.steps.map((s) => s.step_id));
    if (existing) {
      const removed = [...existing.steps].filter((s) => !newSteps.has(s));
      if (removed.length > 0) {
        // The day rollups hold a row for every step with stored events (counts only grow), so no event table is scanned.
        const used = await queryRows<{ step_id: string }>(
          tx,
          sql`select distinct step_id from (
                select step_id from step_entry_rollups where journey_id = ${def.journey_id} and grain = 'day' and entries > 0
                union all select step_id from message_rollups where journey_id = ${def.journey_id} and grain = 'day' and count > 0
                union all select step_id from outcome_rollups where journey_id = ${def.journey_id} and grain = 'day' and count > 0
              ) s where step_id = any(${arrayParam(removed)}::text[]) order by step_id`,
        );
        if (used.length > 0) {
          const names = used.map((u) => `"${u.step_id}"`).join(', ');
          return `cannot remove step ${names} from journey "${def.journey_id}": it has stored events (keep it in the definition)`;
        }
      }
    }
    const values = {
      name: def.name,
      conversionEvent: def.conversion_event,
      attributionWindowHours: def.attribution_window_hours,
      reentry: def.reentry,
      updatedAt: new Date(),
    };
    await tx
      .insert(journeys)
      .values({ journeyId: def.journey_id, ...values })
      .onConflictDoUpdate({ target: journeys.journeyId, set: values });
    await tx.execute(
      sql`delete from steps where journey_id = ${def.journey_id} and not (step_id = any(${arrayParam([...newSteps])}::text[]))`,
    );
    if (def.steps.length > 0) {
      const rows = def.steps.map((s, position) => ({
        journeyId: def.journey_id,
        stepId: s.step_id,
        position,
        name: s.name,
        kind: s.kind,
        campaignId: s.campaign_id ?? null,
        next: s.next,
      }));
      await tx
        .insert(steps)
        .values(rows)
        .onConflictDoUpdate({
          target: [steps.journeyId, steps.stepId],
          set: {
            position: sql`excluded.position`,
            name: sql`excluded.name`,
            kind: sql`excluded.kind`,
            campaignId: sql`excluded.campaign_id`,
            next: sql`excluded.next`,
          },
        });
    }
    if (
      existing &&
      (existing.conversionEvent !== def.conversion_event || existing.windowHours !== def.attribution_window_hours)
    ) {
      await recomputeJourney(tx, def.journey_id);
    }
    this.journeys.set(def.journey_id, {
      steps: newSteps,
      reentry: def.reentry,
      conversionEvent: def.conversion_event,
      windowHours: def.attribution_window_hours,
    });
    return null;
  }

  /**
   * Starts writing the pending batch; does not wait for it. At most two batches are open: the one before is
   * awaited first.
   */
  private async flush(inTx: InTransaction): Promise<void> {
    if (this.batch.length === 0) return;
    if (this.earlier) await this.earlier.done;
    const batch = this.batch;
    this.batch = [];
    const previous = this.inflight;
    let markClaimed!: () => void;
    const claimed = new Promise<void>((resolve) => (markClaimed = resolve));
    const done = this.writeInTransaction({ batch, inTx, previous, markClaimed, ahead: this.claimAhead() });
    // Observed by settle(); without this an error would count as unhandled until then.
    done.catch(() => {});
    this.earlier = previous;
    this.inflight = { claimed, done };
  }

  /** Waits for every batch being written; rethrows the first error. */
  private async settle(): Promise<void> {
    const writing = this.inflight;
    this.inflight = null;
    this.earlier = null;
    // A batch ends only after the one before it (it waits for it), so the latest covers both.
    if (writing) await writing.done;
  }

  /**
   * Writes one batch in its own transaction. Claiming ahead (`ahead`), its event_ids are claimed while the batch
   * before it (`previous`) still writes: the claim is one atomic insert, which waits only on ids that batch claimed
   * too (the earlier line wins), and it is what the database spends the most time on per line. Claims go one batch
   * after another (a batch claims once the one before has claimed), and everything else waits for the previous
   * batch to commit and for the import lock, so the rules see what it stored. Claims insert in one order (see
   * claimEventIds), so two imports claiming at once never deadlock; the gate keeps strict imports apart (see
   * CLAIM_GATE_KEY). Ends only after `previous` ended.
   */
  private async writeInTransaction(job: BatchJob): Promise<void> {
    const { previous, markClaimed } = job;
    try {
      await this.writeAfter(job);
    } catch (err) {
      // Never return (and let the import be recorded as failed) while the batch before is still writing.
      await previous?.done.catch(() => {});
      throw err;
    } finally {
      // A batch that failed before its claim must not hold the next one's claim back.
      markClaimed();
    }
  }

  private async writeAfter({ batch, inTx, previous, markClaimed, ahead }: BatchJob): Promise<void> {
    const rejected: Array<[Line, string]> = [];
    const deferred: PendingEvent[] = [];
    // Before the transaction opens: waiting for the claim of the batch before (claiming ahead), or for its commit,
    // in a transaction would hold a connection idle in it meanwhile (behind a strict import, for all of that import).
    await (ahead ? previous?.claimed : previous?.done);
    await inTx(async (tx) => {
      // JIT compiles for ~100 ms once a statement's estimate crosses jit_above_cost, which batch statements do
      // when the statistics lag a growing table; each statement here runs for milliseconds, so never JIT. For the
      // same reason no sequential scan where an index serves: every batch statement reads the batch's rows and
      // users through index probes, and a table that grew since it was last analysed looked small enough to scan
      // (seen: every user, every conversion, every step entry sorted, in one batch after another).
      await tx.execute(sql`select set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)`);
      // The claim comes before the import lock, under the gate held shared (in a strict import's transaction, which
      // holds the gate exclusively, it is granted at once). Claiming ahead it runs while the batch before writes,
      // but only after that batch's claim (and so after it holds the gate): a claim that ran ahead of it could take
      // an id from an earlier line, and the batch before would then wait on this one while this one waits for it;
      // and a gate taken first could let a strict import queue between the two, waiting for this batch while the
      // one before waits behind it. Not claiming ahead, the batch before has committed already (above).
      await tx.execute(sql`select pg_advisory_xact_lock_shared(${CLAIM_GATE_KEY})`);
      const claimed = await claimEventIds(tx, batch, this.importId);
      markClaimed();
      await previous?.done;
      await tx.execute(sql`select pg_advisory_xact_lock(${IMPORT_LOCK_KEY})`);
      await this.loadJourneys(tx);
      const writes = await this.resolveBatch(tx, batch, claimed, rejected, deferred);
      await releaseEventIds(tx, claimed, writes.eventIds);
      await writeBatch(tx, writes);
      await this.saveProgress(tx);
    });
    // The callbacks run after the commit: a rejects file never names a line the database still might take.
    for (const [line, reason] of rejected) await this.reportRejection(line, reason);
    for (const item of deferred) await this.defer(item);
  }

  /** Applies EVENTS.md's rules to a batch in line order against what is stored and what the batch accepted. */
  private async resolveBatch(
    tx: Db,
    batch: PendingEvent[],
    claimed: Set<string>,
    rejected: Array<[Line, string]>,
    deferred: PendingEvent[],
  ): Promise<BatchWrites> {
    const lookups = await lookUpBatch(tx, batch, this.journeys);
    const writes = emptyWrites();
    const seen = new Set<string>();
    const batchEntries = new Map<string, KnownEntry>();
    const usersInJourney = new Set<string>();
    const reject = (item: PendingEvent, reason: string) => {
      // Counted now (so the batch's progress record is right); reported once the batch commits.
      this.progress.rejected++;
      rejected.push([item, reason]);
    };
    // In the final pass nothing waits any more, so the ordering sets no longer apply.
    const waiting = (set: Set<string>, key: string) => !this.finalPass && set.has(key);
    const wait = (item: PendingEvent, reason: string) => {
      if (this.finalPass) return reject(item, reason);
      deferred.push(item);
      this.deferredEventIds.add(item.event.event_id);
      const ev = item.event;
      // A waiting entry line still wins over a later line for the same entry (or, without re-entry, the same user).
      if (ev.type === 'journey_entry') this.deferredEntryLines.add(entryKey(ev.journey_id, ev.entry_id)).add(entryKey(ev.journey_id, ev.external_id));
    };

    for (const item of batch) {
      const ev = item.event;
      if (waiting(this.deferredEventIds, ev.event_id)) {
        wait(item, `event_id "${ev.event_id}" waited for an earlier line that could not be resolved`);
        continue;
      }
      if (seen.has(ev.event_id) || !claimed.has(ev.event_id)) {
        this.progress.duplicates++;
        continue;
      }
      if (ev.type === 'conversion') {
        accept(writes, seen, ev);
        this.progress.accepted++;
        continue;
      }
      const journey = this.journeys.get(ev.journey_id);
      if (!journey || waiting(this.deferredJourneys, ev.journey_id)) {
        this.deferredJourneys.add(ev.journey_id);
        wait(item, `unknown journey "${ev.journey_id}": define it with a "journey" line (in this import or before it)`);
        continue;
      }
      if (ev.type === 'journey_entry') {
        const key = entryKey(ev.journey_id, ev.entry_id);
        const userKey = entryKey(ev.journey_id, ev.external_id);
        if (waiting(this.deferredEntryLines, key) || (!journey.reentry && waiting(this.deferredEntryLines, userKey))) {
          wait(item, `entry "${ev.entry_id}" waited for an earlier line that could not be resolved`);
          continue;
        }
        if (batchEntries.has(key) || lookups.entries.has(key)) {
          reject(item, `entry_id "${ev.entry_id}" already exists in journey "${ev.journey_id}" (entry_id is unique within a journey)`);
          continue;
        }
        if (!journey.reentry && (usersInJourney.has(userKey) || lookups.usersInJourney.has(userKey))) {
          reject(item, `re-entry not allowed: journey "${ev.journey_id}" does not allow re-entry and user "${ev.external_id}" has already entered it`);
          continue;
        }
        usersInJourney.add(userKey);
        batchEntries.set(key, { externalId: ev.external_id, userId: null, enteredAtMs: ev.at.getTime(), exited: false });
        accept(writes, seen, ev);
        this.progress.accepted++;
        continue;
      }
      const key = entryKey(ev.journey_id, ev.entry_id);
      const entry = waiting(this.deferredEntries, key) ? undefined : (batchEntries.get(key) ?? lookups.entries.get(key));
      if (!entry) {
        this.deferredEntries.add(key);
        wait(item, `unknown entry_id "${ev.entry_id}" in journey "${ev.journey_id}": it is neither stored nor in this import (add its journey_entry line)`);
        continue;
      }
      if (ev.type !== 'journey_exit' && !journey.steps.has(ev.step_id)) {
        reject(item, `step "${ev.step_id}" is not a step of journey "${ev.journey_id}" (its steps: ${[...journey.steps].join(', ') || 'none'})`);
        continue;
      }
      if (ev.type === 'journey_exit') {
        if (entry.exited) {
          reject(item, `entry already exited: entry "${ev.entry_id}" of journey "${ev.journey_id}" has an exit already (at most one per entry)`);
          continue;
        }
        if (ev.at.getTime() < entry.enteredAtMs) {
          reject(item, `exit at ${ev.at.toISOString()} is earlier than the entry's journey_entry at ${new Date(entry.enteredAtMs).toISOString()}`);
          continue;
        }
        batchEntries.set(key, { ...entry, exited: true });
      } else if (!batchEntries.has(key)) {
        batchEntries.set(key, entry);
      }
      accept(writes, seen, ev, entry);
      this.progress.accepted++;
    }
    return writes;
  }
}

function accept(writes: BatchWrites, seen: Set<string>, ev: PendingEvent['event'], entry?: KnownEntry): void {
  seen.add(ev.event_id);
  writes.eventIds.push(ev.event_id);
  switch (ev.type) {
    case 'conversion':
      writes.conversions.push(ev);
      return;
    case 'journey_entry':
      writes.entries.push(ev);
      return;
    case 'journey_exit':
      writes.exits.push({ event: ev, entry: entry! });
      return;
    case 'step_entry':
      writes.stepEntries.push({ event: ev, entry: entry! });
      return;
    case 'message':
      writes.messages.push({ event: ev, entry: entry! });
      return;
    case 'step_outcome':
      writes.outcomes.push({ event: ev, entry: entry! });
      return;
  }
}

/**
 * Claims the batch's event_ids in the ledger in one statement: the ids it inserts were not stored before (the
 * rest are duplicates). Ids of lines the batch then does not accept are released again before it commits.
 */
async function claimEventIds(tx: Db, batch: PendingEvent[], importId: number): Promise<Set<string>> {
  const ids = [...new Set(batch.map((b) => b.event.event_id))];
  // In one order: a claim waits on an id another transaction claimed and has not committed, and two claims that
  // each wait on the other would deadlock.
  // The claimed ids come back only when some were not (nearly every batch claims all of its own).
  const [row] = await queryRows<{ missed: boolean; ids: string[] | null }>(
    tx,
    sql`with claimed as (
          insert into event_ids (event_id, import_id)
          select id, ${importId} from unnest(${arrayParam(ids)}::text[]) as t(id)
          order by id collate "C"
          on conflict (event_id) do nothing
          returning event_id)
        select count(*) < ${ids.length} as missed, case when count(*) < ${ids.length} then array_agg(event_id) end as ids
        from claimed`,
  );
  return row?.missed ? new Set(row.ids ?? []) : new Set(ids);
}

async function releaseEventIds(tx: Db, claimed: Set<string>, accepted: string[]): Promise<void> {
  for (const id of accepted) claimed.delete(id);
  if (claimed.size === 0) return;
  await tx.execute(sql`delete from event_ids where event_id = any(${arrayParam([...claimed])}::text[])`);
}

interface BatchLookups {
  entries: Map<string, KnownEntry>;
  /** journey ⊕ external_id of users who already have an entry in a journey without re-entry. */
  usersInJourney: Set<string>;
}

/** What the batch refers to that is stored already: entries by key, and users of journeys without re-entry. */
async function lookUpBatch(tx: Db, batch: PendingEvent[], known: Map<string, JourneyInfo>): Promise<BatchLookups> {
  const entryEvents = batch
    .map((b) => b.event)
    .filter((e): e is EntryEvent | JourneyEntryEvent => e.type !== 'conversion');
  const keys = uniqueBy(entryEvents.map((e) => [e.journey_id, e.entry_id] as const));
  const entryRows =
    keys.length === 0
      ? []
      : await queryRows<{ journey_id: string; entry_id: string; user_id: number; entered_ms: unknown; exited: boolean }>(
          tx,
          sql`select e.journey_id, e.entry_id, e.user_id,
                     (extract(epoch from e.entered_at) * 1000)::bigint as entered_ms, e.exited_at is not null as exited
              from unnest(${arrayParam(keys.map((k) => k[0]))}::text[], ${arrayParam(keys.map((k) => k[1]))}::text[]) as t(journey_id, entry_id)
              cross join lateral (select * from entries e where e.journey_id = t.journey_id and e.entry_id = t.entry_id offset 0) e`,
        );
  const noReentry = uniqueBy(
    batch
      .map((b) => b.event)
      .filter((e): e is JourneyEntryEvent => e.type === 'journey_entry' && known.get(e.journey_id)?.reentry === false)
      .map((e) => [e.journey_id, e.external_id] as const),
  );
  const userRows =
    noReentry.length === 0
      ? []
      : await queryRows<{ journey_id: string; external_id: string }>(
          tx,
          sql`select t.journey_id, t.external_id
              from unnest(${arrayParam(noReentry.map((k) => k[0]))}::text[], ${arrayParam(noReentry.map((k) => k[1]))}::text[]) as t(journey_id, external_id)
              join users u on u.external_id = t.external_id
              where exists (select 1 from entries e where e.user_id = u.id and e.journey_id = t.journey_id)`,
        );
  return {
    entries: new Map(
      entryRows.map((r) => [
        entryKey(r.journey_id, r.entry_id),
        { externalId: null, userId: r.user_id, enteredAtMs: toCount(r.entered_ms), exited: r.exited },
      ]),
    ),
    usersInJourney: new Set(userRows.map((r) => entryKey(r.journey_id, r.external_id))),
  };
}

function uniqueBy(pairs: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> {
  const seen = new Map<string, readonly [string, string]>();
  for (const p of pairs) seen.set(entryKey(p[0], p[1]), p);
  return [...seen.values()];
}


async function* numbered(lines: AsyncIterable<InputLine>): AsyncIterable<Line> {
  let n = 0;
  for await (const line of lines) {
    n++;
    if (typeof line === 'string') {
      // A byte order mark starts a UTF-8 file, or each of several files joined with cat: not part of the line.
      yield { n, raw: line.charCodeAt(0) === 0xfeff ? line.slice(1) : line };
    } else {
      yield { n, raw: line.text, undecodable: line };
    }
  }
}

async function* readSpool(file: string): AsyncIterable<Line> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const text of rl) {
    if (text !== '') yield JSON.parse(text) as Line;
  }
}

/** A line whose bytes are not UTF-8: rejected, saying where, and passed to onRejected as the bytes it had. */
export class UndecodableLine {
  constructor(
    readonly bytes: Buffer,
    /** Offset of the first byte that is not UTF-8, from the line's start. */
    readonly badByteAt: number,
  ) {}

  /** The line with each bad byte read as U+FFFD: for messages only, never stored. */
  get text(): string {
    return this.bytes.toString('utf8');
  }

  get reason(): string {
    const byte = this.bytes[this.badByteAt]!.toString(16).toUpperCase().padStart(2, '0');
    return `not valid UTF-8 (byte 0x${byte} at byte ${this.badByteAt + 1} of the line): save the file as UTF-8`;
  }
}

export type InputLine = string | UndecodableLine;

/**
 * Reads a file (or standard input for "-") line by line without holding it in memory. The stream opens
 * only when iteration starts.
 */
export async function* readLines(file: string): AsyncIterable<InputLine> {
  yield* splitLines(file === '-' ? process.stdin : createReadStream(file));
}

/**
 * Lines of UTF-8 bytes: ended by LF (a CR before it is dropped; a CR elsewhere is part of the line, as JSON takes it
 * for white space). A line that is not UTF-8 comes as an UndecodableLine, where a decoder would put U+FFFD in place of
 * its bad bytes and two ids that differ only there would be stored as one.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | string>): AsyncIterable<InputLine> {
  // Bytes of a line not ended yet: kept as the chunks came, so a very long line is joined once.
  let pending: Buffer[] = [];
  for await (const piece of chunks) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    const lastLf = chunk.lastIndexOf(0x0a);
    if (lastLf < 0) {
      pending.push(chunk);
      continue;
    }
    const whole = pending.length === 0 ? chunk.subarray(0, lastLf + 1) : Buffer.concat([...pending, chunk.subarray(0, lastLf + 1)]);
    pending = lastLf + 1 < chunk.length ? [chunk.subarray(lastLf + 1)] : [];
    yield* linesOf(whole);
  }
  if (pending.length > 0) yield* linesOf(Buffer.concat(pending));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The lines of a block of whole lines (the last may lack its LF): decoded at once, line by line only when it fails. */
function* linesOf(block: Buffer): Iterable<InputLine> {
  let text: string | null = null;
  try {
    text = utf8.decode(block);
  } catch {
    // Some line of the block is not UTF-8: find it, line by line.
  }
  if (text !== null) {
    const lines = text.split('\n');
    // The block's last LF leaves an empty string after it.
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) yield line.endsWith('\r') ? line.slice(0, -1) : line;
    return;
  }
  let start = 0;
  while (start < block.length) {
    const lf = block.indexOf(0x0a, start);
    const end = lf < 0 ? block.length : lf;
    const bytes = block.subarray(start, end > start && block[end - 1] === 0x0d ? end - 1 : end);
    try {
      yield utf8.decode(bytes);
    } catch {
      yield new UndecodableLine(Buffer.from(bytes), firstBadByte(bytes));
    }
    start = end + 1;
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence (as the WHATWG decoder reads them). */
export function firstBadByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (c < (k === 1 ? lower : 0x80) || c > (k === 1 ? upper : 0xbf)) return i;
    }
    i += need + 1;
  }
  return Math.max(0, bytes.length - 1);
}
