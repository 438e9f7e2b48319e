// A pid lock beside an embedded database folder: PGlite takes no lock of its own, and two processes
// on one folder corrupt it. A lock is cleared only when its holder is provably dead.
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { platform } from 'node:os';

export interface DirLock {
  path: string;
  /** Adds what a refused second process should know (the running app's ingest URL) to the lock file. */
  note(fields: Record<string, string>): void;
  release(): void;
}

export class DatabaseLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holderPid: number,
    readonly holderCommand: string,
    /** The holder's POST /ingest URL, when it is an app that accepts files over HTTP. */
    readonly holderIngestUrl?: string,
  ) {
    super(
      holderPid === process.pid
        ? `The embedded database ${dir} is in use by process ${holderPid} (this one), which has it open already: ` +
            'close it before opening it again.'
        : `The embedded database ${dir} is in use by process ${holderPid} (${holderCommand}). ` +
            'PGlite allows one process at a time: wait for that process to finish or stop it, or point DATABASE_URL ' +
            'at a Postgres server, which many processes share.',
    );
    this.name = 'DatabaseLockedError';
  }
}

/**
 * Whether a process is alive. A killed process whose parent has not reaped it yet (a zombie — common in
 * containers whose init does not reap) still answers kill(pid, 0), but it will never touch the folder again.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (platform() !== 'linux') return true;
  try {
    // /proc/<pid>/stat: "pid (command) state …"; the command may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

interface LockContent {
  text: string;
  pid?: number;
  command?: string;
  ingest_url?: string;
}

function readLock(lockPath: string): LockContent | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return { text, ...(JSON.parse(text) as Omit<LockContent, 'text'>) };
  } catch {
    // unreadable or half-written lock: its writer died mid-write, so it is stale
    return { text };
  }
}

/**
 * Lock files this process holds. A lock file naming this process's pid is otherwise taken for a stale one (a restarted
 * container's app often gets the pid its predecessor had), so a second open of a folder within this process is
 * refused here: two PGlite instances on one folder would each keep their own pages of it.
 */
const heldHere = new Set<string>();

export function acquireDirLock(dir: string, notice: (msg: string) => void = () => {}): DirLock {
  const lockPath = `${dir}.lock`;
  const content: Record<string, string | number> = { pid: process.pid, command: process.argv.slice(1).join(' '), since: new Date().toISOString() };
  if (heldHere.has(lockPath)) throw new DatabaseLockedError(dir, process.pid, String(content.command));
  let mine = JSON.stringify(content);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, mine);
      closeSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(lockPath);
      if (holder === undefined) continue; // cleared meanwhile: try again
      if (typeof holder.pid === 'number' && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new DatabaseLockedError(dir, holder.pid, holder.command ?? 'unknown command', holder.ingest_url);
      }
      // Stale. Remove it only if it is still the stale one we read: another process clearing it at the same
      // time may already have written its own lock there.
      if (readLock(lockPath)?.text === holder.text) {
        try {
          unlinkSync(lockPath);
          notice(
            typeof holder.pid === 'number'
              ? `Cleared the stale lock ${lockPath} of process ${holder.pid} (${holder.command ?? 'unknown command'}), which is no longer running.`
              : `Cleared the unreadable lock ${lockPath} (its writer died while writing it).`,
          );
        } catch {
          // another process cleared it first; try again
        }
      }
      continue;
    }
    // Two processes clearing one stale lock at once can both get here; the file says which one won.
    if (readLock(lockPath)?.text !== mine) continue;
    heldHere.add(lockPath);
    let released = false;
    return {
      path: lockPath,
      note: (fields) => {
        if (readLock(lockPath)?.text !== mine) return;
        const next = JSON.stringify({ ...content, ...fields });
        // Written beside and renamed over: a reader never sees half a lock.
        const temp = `${lockPath}.${process.pid}.tmp`;
        writeFileSync(temp, next, { mode: 0o600 });
        renameSync(temp, lockPath);
        mine = next;
      },
      release: () => {
        // Once: a second release must not unregister a later open of the same folder in this process.
        if (released) return;
        released = true;
        heldHere.delete(lockPath);
        if (readLock(lockPath)?.text !== mine) return;
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new Error(`Could not take the lock ${lockPath}; try again.`);
}
