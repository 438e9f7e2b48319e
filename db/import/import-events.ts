// Imports NDJSON journey events (EVENTS.md): validates every line, skips duplicates, rejects bad lines
// with a reason, and writes the rest in batched transactions together with the derived state they change.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { eq, sql } from 'drizzle-orm';
import { arrayParam, queryRows, toCount, type Db } from '../client.js';
import { imports, journeys, steps } from '../schema.js';
import { recomputeAttribution, recomputeLastSteps } from './derived-state.js';
import {
  parseEventLine,
  type ConversionEvent,
  type EntryEvent,
  type ImportEvent,
  type JourneyDef,
  type JourneyEntryEvent,
  type JourneyExitEvent,
  type MessageEvent,
  type StepEntryEvent,
  type StepOutcomeEvent,
} from './parse-event.js';

export interface Rejection {
  line: number;
  reason: string;
}

export interface ImportOptions {
  /** Where the lines came from, for the import record (a file path, "stdin", "http"). */
  source: string;
  /** Import nothing at all if any line is bad. */
  strict?: boolean;
  /** Lines per transaction. */
  batchSize?: number;
  /** Called for every rejected line with the line unchanged, so it can be fixed and imported again. */
  onRejected?: (rawLine: string, rejection: Rejection) => void | Promise<void>;
  onProgress?: (progress: ImportProgress) => void;
  /** How many rejections the summary keeps (all are counted and passed to onRejected). */
  keepRejections?: number;
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
}

interface PendingEvent extends Line {
  event: Exclude<ImportEvent, JourneyDef>;
}

/** An entry as the batch sees it: stored already, or accepted earlier in this batch. */
interface KnownEntry {
  externalId: string | null;
  userId: number | null;
  enteredAtMs: number;
  exited: boolean;
}

class StrictRefusal extends Error {}

const entryKey = (journeyId: string, entryId: string) => `${journeyId}\u0000${entryId}`;
/** Serialises import batches across processes: their lookups and writes must not interleave. */
const IMPORT_LOCK_KEY = 7_316_002;

export async function importEvents(db: Db, lines: AsyncIterable<string>, options: ImportOptions): Promise<ImportSummary> {
  const [record] = await db
    .insert(imports)
    .values({ source: options.source, strict: options.strict ?? false, status: 'running' })
    .returning({ id: imports.id });
  const importId = record!.id;
  const run = new ImportRun(importId, options);
  try {
    if (options.strict) {
      try {
        await db.transaction(async (tx) => {
          await run.execute(tx as unknown as Db, lines, (fn) => fn(tx as unknown as Db));
          if (run.progress.rejected > 0) throw new StrictRefusal();
        });
      } catch (err) {
        if (!(err instanceof StrictRefusal)) throw err;
        await db
          .update(imports)
          .set({ status: 'refused', finishedAt: new Date(), accepted: 0, duplicates: 0, rejected: run.progress.rejected })
          .where(eq(imports.id, importId));
        return { importId, status: 'refused', ...run.progress, accepted: 0, duplicates: 0, rejections: run.rejections };
      }
    } else {
      await run.execute(db, lines, (fn) => db.transaction((tx) => fn(tx as unknown as Db)));
    }
    await db
      .update(imports)
      .set({ status: 'completed', finishedAt: new Date(), ...run.counters() })
      .where(eq(imports.id, importId));
    return { importId, status: 'completed', ...run.progress, rejections: run.rejections };
  } catch (err) {
    await db
      .update(imports)
      .set({ status: 'failed', finishedAt: new Date(), ...run.counters() })
      .where(eq(imports.id, importId))
      .catch(() => {});
    throw err;
  } finally {
    run.cleanup();
  }
}

type InTransaction = (fn: (tx: Db) => Promise<void>) => Promise<void>;

class ImportRun {
  readonly progress: ImportProgress = { lines: 0, accepted: 0, duplicates: 0, rejected: 0 };
  readonly rejections: Rejection[] = [];
  private journeys = new Map<string, JourneyInfo>();
  private batch: PendingEvent[] = [];
  private readonly batchSize: number;
  private spoolDir: string | undefined;
  private spoolCount = 0;
  // Deferral: a line whose journey or entry is not known yet waits for a later pass. Once one line of a
  // journey, an entry or an event_id waits, every later line of it waits too, so the earlier line still wins.
  private deferredJourneys = new Set<string>();
  private deferredEntries = new Set<string>();
  private deferredEventIds = new Set<string>();
  private spool: WriteStream | undefined;
  private deferredThisPass = 0;
  private finalPass = false;

  constructor(
    private readonly importId: number,
    private readonly options: ImportOptions,
  ) {
    this.batchSize = options.batchSize ?? 5000;
  }

  counters() {
    const { accepted, duplicates, rejected } = this.progress;
    return { accepted, duplicates, rejected };
  }

  cleanup(): void {
    this.spool?.destroy();
    if (this.spoolDir) rmSync(this.spoolDir, { recursive: true, force: true });
  }

  async execute(db: Db, lines: AsyncIterable<string>, inTx: InTransaction): Promise<void> {
    await this.loadJourneys(db);
    let source: AsyncIterable<Line> = numbered(lines);
    for (let pass = 1; ; pass++) {
      this.startPass(pass);
      let read = 0;
      for await (const line of source) {
        read++;
        await this.take(line, inTx);
      }
      await this.flush(inTx);
      const spooled = await this.endPass();
      if (spooled === undefined) return;
      // A pass in which every line waited again makes no progress: the next one rejects what is unresolved.
      this.finalPass = this.deferredThisPass === read;
      source = readSpool(spooled);
    }
  }

  private startPass(pass: number): void {
    this.deferredJourneys.clear();
    this.deferredEntries.clear();
    this.deferredEventIds.clear();
    this.deferredThisPass = 0;
    if (pass > 1) this.spoolCount++;
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

  private async take(line: Line, inTx: InTransaction): Promise<void> {
    if (line.raw.trim() === '') return;
    this.progress.lines++;
    const parsed = parseEventLine(line.raw);
    if (!parsed.ok) {
      this.progress.rejected++;
      return this.reportRejection(line, parsed.reason);
    }
    if (parsed.event.type === 'journey') {
      await this.flush(inTx);
      let reason: string | null = null;
      await inTx(async (tx) => {
        reason = await this.applyJourney(tx, parsed.event as JourneyDef);
        if (reason === null) this.progress.accepted++;
        await this.saveProgress(tx);
      });
      if (reason !== null) {
        this.progress.rejected++;
        await this.reportRejection(line, reason);
      }
      return;
    }
    this.batch.push({ ...line, event: parsed.event });
    if (this.batch.length >= this.batchSize) await this.flush(inTx);
  }

  private async reportRejection(line: Line, reason: string): Promise<void> {
    const rejection = { line: line.n, reason };
    if (this.rejections.length < (this.options.keepRejections ?? 1000)) this.rejections.push(rejection);
    await this.options.onRejected?.(line.raw, rejection);
  }

  private async defer(item: PendingEvent): Promise<void> {
    this.deferredThisPass++;
    if (!('event_id' in item.event)) return;
    this.deferredEventIds.add(item.event.event_id);
    if (!this.spool) {
      this.spoolDir ??= mkdtempSync(path.join(tmpdir(), 'journey-import-'));
      this.spool = createWriteStream(path.join(this.spoolDir, `pass-${this.spoolCount + 1}.ndjson`));
    }
    if (!this.spool.write(`${JSON.stringify({ n: item.n, raw: item.raw })}\n`)) await once(this.spool, 'drain');
  }

  private async loadJourneys(db: Db): Promise<void> {
    const rows = await db.select().from(journeys);
    const stepRows = await db.select({ journeyId: steps.journeyId, stepId: steps.stepId }).from(steps);
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
        const used = await queryRows<{ step_id: string }>(
          tx,
          sql`select distinct step_id from (
                select step_id from step_entries where journey_id = ${def.journey_id} and step_id = any(${arrayParam(removed)}::text[])
                union all select step_id from messages where journey_id = ${def.journey_id} and step_id = any(${arrayParam(removed)}::text[])
                union all select step_id from step_outcomes where journey_id = ${def.journey_id} and step_id = any(${arrayParam(removed)}::text[])
              ) s order by step_id`,
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
      await recomputeAttribution(tx, { journeyId: def.journey_id });
    }
    this.journeys.set(def.journey_id, {
      steps: newSteps,
      reentry: def.reentry,
      conversionEvent: def.conversion_event,
      windowHours: def.attribution_window_hours,
    });
    return null;
  }

  private async flush(inTx: InTransaction): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const rejected: Array<[Line, string]> = [];
    const deferred: PendingEvent[] = [];
    await inTx(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${IMPORT_LOCK_KEY})`);
      const writes = await this.resolveBatch(tx, batch, rejected, deferred);
      await writeBatch(tx, writes, this.importId);
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
    };

    for (const item of batch) {
      const ev = item.event;
      if (waiting(this.deferredEventIds, ev.event_id)) {
        wait(item, `event_id "${ev.event_id}" waited for an earlier line that could not be resolved`);
        continue;
      }
      if (seen.has(ev.event_id) || lookups.storedEventIds.has(ev.event_id)) {
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
        if (waiting(this.deferredEntries, key)) {
          wait(item, `entry "${ev.entry_id}" waited for an earlier line that could not be resolved`);
          continue;
        }
        if (batchEntries.has(key) || lookups.entries.has(key)) {
          reject(item, `entry_id "${ev.entry_id}" already exists in journey "${ev.journey_id}" (entry_id is unique within a journey)`);
          continue;
        }
        const userKey = entryKey(ev.journey_id, ev.external_id);
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

interface EntryBound<T> {
  event: T;
  entry: KnownEntry;
}

interface BatchWrites {
  eventIds: string[];
  entries: JourneyEntryEvent[];
  stepEntries: EntryBound<StepEntryEvent>[];
  messages: EntryBound<MessageEvent>[];
  outcomes: EntryBound<StepOutcomeEvent>[];
  exits: JourneyExitEvent[];
  conversions: ConversionEvent[];
}

function emptyWrites(): BatchWrites {
  return { eventIds: [], entries: [], stepEntries: [], messages: [], outcomes: [], exits: [], conversions: [] };
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
      writes.exits.push(ev);
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

interface BatchLookups {
  storedEventIds: Set<string>;
  entries: Map<string, KnownEntry>;
  /** journey ⊕ external_id of users who already have an entry in a journey without re-entry. */
  usersInJourney: Set<string>;
}

async function lookUpBatch(tx: Db, batch: PendingEvent[], known: Map<string, JourneyInfo>): Promise<BatchLookups> {
  const ids = batch.map((b) => b.event.event_id);
  const stored = await queryRows<{ event_id: string }>(
    tx,
    sql`select event_id from event_ids where event_id = any(${arrayParam(ids)}::text[])`,
  );
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
              from entries e
              join unnest(${arrayParam(keys.map((k) => k[0]))}::text[], ${arrayParam(keys.map((k) => k[1]))}::text[]) as t(journey_id, entry_id)
                on e.journey_id = t.journey_id and e.entry_id = t.entry_id`,
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
          sql`select distinct t.journey_id, t.external_id
              from unnest(${arrayParam(noReentry.map((k) => k[0]))}::text[], ${arrayParam(noReentry.map((k) => k[1]))}::text[]) as t(journey_id, external_id)
              join users u on u.external_id = t.external_id
              join entries e on e.user_id = u.id and e.journey_id = t.journey_id`,
        );
  return {
    storedEventIds: new Set(stored.map((r) => r.event_id)),
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

const iso = (ms: number) => new Date(ms).toISOString();

async function writeBatch(tx: Db, w: BatchWrites, importId: number): Promise<void> {
  if (w.eventIds.length === 0) return;
  const externalIds = [...new Set([...w.entries.map((e) => e.external_id), ...w.conversions.map((c) => c.external_id)])];
  const userIds = await upsertUsers(tx, externalIds);
  const userOf = (entry: KnownEntry) => entry.userId ?? userIds.get(entry.externalId!)!;

  await tx.execute(sql`
    insert into event_ids (event_id, import_id)
    select id, ${importId} from unnest(${arrayParam(w.eventIds)}::text[]) as t(id)
    on conflict do nothing`);
  if (w.entries.length > 0) {
    await tx.execute(sql`
      insert into entries (journey_id, entry_id, user_id, event_id, entered_at)
      select * from unnest(${arrayParam(w.entries.map((e) => e.journey_id))}::text[],
                           ${arrayParam(w.entries.map((e) => e.entry_id))}::text[],
                           ${arrayParam(w.entries.map((e) => userIds.get(e.external_id)!))}::int[],
                           ${arrayParam(w.entries.map((e) => e.event_id))}::text[],
                           ${arrayParam(w.entries.map((e) => e.at.toISOString()))}::timestamptz[])
      on conflict do nothing`);
    await tx.execute(sql`
      update journeys j set last_activity_at = greatest(j.last_activity_at, t.latest)
      from (select journey_id, max(at) as latest
            from unnest(${arrayParam(w.entries.map((e) => e.journey_id))}::text[], ${arrayParam(w.entries.map((e) => e.at.toISOString()))}::timestamptz[]) as u(journey_id, at)
            group by journey_id) t
      where j.journey_id = t.journey_id`);
  }
  if (w.stepEntries.length > 0) {
    const rows = w.stepEntries;
    await tx.execute(sql`
      insert into step_entries (event_id, journey_id, entry_id, step_id, user_id, entered_at, at)
      select * from unnest(${arrayParam(rows.map((r) => r.event.event_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.journey_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.entry_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.step_id))}::text[],
                           ${arrayParam(rows.map((r) => userOf(r.entry)))}::int[],
                           ${arrayParam(rows.map((r) => iso(r.entry.enteredAtMs)))}::timestamptz[],
                           ${arrayParam(rows.map((r) => r.event.at.toISOString()))}::timestamptz[])
      on conflict do nothing`);
  }
  if (w.messages.length > 0) {
    const rows = w.messages;
    await tx.execute(sql`
      insert into messages (event_id, journey_id, entry_id, step_id, user_id, entered_at, status, platform, reason, at)
      select * from unnest(${arrayParam(rows.map((r) => r.event.event_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.journey_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.entry_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.step_id))}::text[],
                           ${arrayParam(rows.map((r) => userOf(r.entry)))}::int[],
                           ${arrayParam(rows.map((r) => iso(r.entry.enteredAtMs)))}::timestamptz[],
                           ${arrayParam(rows.map((r) => r.event.status))}::text[],
                           ${arrayParam(rows.map((r) => r.event.platform))}::text[],
                           ${arrayParam(rows.map((r) => r.event.reason ?? null))}::text[],
                           ${arrayParam(rows.map((r) => r.event.at.toISOString()))}::timestamptz[])
      on conflict do nothing`);
  }
  if (w.outcomes.length > 0) {
    const rows = w.outcomes;
    await tx.execute(sql`
      insert into step_outcomes (event_id, journey_id, entry_id, step_id, user_id, entered_at, outcome, at)
      select * from unnest(${arrayParam(rows.map((r) => r.event.event_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.journey_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.entry_id))}::text[],
                           ${arrayParam(rows.map((r) => r.event.step_id))}::text[],
                           ${arrayParam(rows.map((r) => userOf(r.entry)))}::int[],
                           ${arrayParam(rows.map((r) => iso(r.entry.enteredAtMs)))}::timestamptz[],
                           ${arrayParam(rows.map((r) => r.event.outcome))}::text[],
                           ${arrayParam(rows.map((r) => r.event.at.toISOString()))}::timestamptz[])
      on conflict do nothing`);
  }
  if (w.conversions.length > 0) {
    const rows = w.conversions;
    await tx.execute(sql`
      insert into conversions (event_id, user_id, event, at)
      select * from unnest(${arrayParam(rows.map((r) => r.event_id))}::text[],
                           ${arrayParam(rows.map((r) => userIds.get(r.external_id)!))}::int[],
                           ${arrayParam(rows.map((r) => r.event))}::text[],
                           ${arrayParam(rows.map((r) => r.at.toISOString()))}::timestamptz[])
      on conflict do nothing`);
  }
  if (w.exits.length > 0) {
    await tx.execute(sql`
      update entries e set exited_at = t.at, exit_event_id = t.event_id, exit_reason = t.reason
      from unnest(${arrayParam(w.exits.map((x) => x.journey_id))}::text[],
                  ${arrayParam(w.exits.map((x) => x.entry_id))}::text[],
                  ${arrayParam(w.exits.map((x) => x.event_id))}::text[],
                  ${arrayParam(w.exits.map((x) => x.reason ?? null))}::text[],
                  ${arrayParam(w.exits.map((x) => x.at.toISOString()))}::timestamptz[]) as t(journey_id, entry_id, event_id, reason, at)
      where e.journey_id = t.journey_id and e.entry_id = t.entry_id and e.exited_at is null`);
  }

  const touchedSteps = uniqueBy(w.stepEntries.map((r) => [r.event.journey_id, r.event.entry_id] as const));
  await recomputeLastSteps(tx, touchedSteps.map((k) => k[0]), touchedSteps.map((k) => k[1]));
  const touchedUsers = new Set<number>(w.conversions.map((c) => userIds.get(c.external_id)!));
  for (const e of w.entries) touchedUsers.add(userIds.get(e.external_id)!);
  if (w.exits.length > 0) {
    const exitUsers = await queryRows<{ user_id: number }>(
      tx,
      sql`select e.user_id from entries e
          join unnest(${arrayParam(w.exits.map((x) => x.journey_id))}::text[], ${arrayParam(w.exits.map((x) => x.entry_id))}::text[]) as t(journey_id, entry_id)
            on e.journey_id = t.journey_id and e.entry_id = t.entry_id`,
    );
    for (const r of exitUsers) touchedUsers.add(r.user_id);
  }
  await recomputeAttribution(tx, { users: [...touchedUsers] });
}

async function upsertUsers(tx: Db, externalIds: string[]): Promise<Map<string, number>> {
  if (externalIds.length === 0) return new Map();
  await tx.execute(sql`
    insert into users (external_id) select * from unnest(${arrayParam(externalIds)}::text[])
    on conflict (external_id) do nothing`);
  const rows = await queryRows<{ id: number; external_id: string }>(
    tx,
    sql`select id, external_id from users where external_id = any(${arrayParam(externalIds)}::text[])`,
  );
  return new Map(rows.map((r) => [r.external_id, r.id]));
}

async function* numbered(lines: AsyncIterable<string>): AsyncIterable<Line> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    yield { n, raw: n === 1 ? raw.replace(/^\uFEFF/, '') : raw };
  }
}

async function* readSpool(file: string): AsyncIterable<Line> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const text of rl) {
    if (text !== '') yield JSON.parse(text) as Line;
  }
}

/**
 * Reads a file (or standard input for "-") line by line without holding it in memory. The stream opens
 * only when iteration starts: a readline interface made earlier emits its lines to nobody while we wait.
 */
export async function* readLines(file: string): AsyncIterable<string> {
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  yield* createInterface({ input, crlfDelay: Infinity });
}
