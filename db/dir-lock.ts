// A pid lock beside an embedded database folder: PGlite takes no lock of its own, and two processes
// on one folder corrupt it. A lock is cleared only when its holder is provably dead.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export interface DirLock {
  path: string;
  release(): void;
}

export class DatabaseLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holderPid: number,
    readonly holderCommand: string,
  ) {
    super(
      `The embedded database ${dir} is in use by process ${holderPid} (${holderCommand}). ` +
        'PGlite allows one process at a time: stop that process first, or send the file to the running app ' +
        '(POST /ingest), or point DATABASE_URL at a Postgres server.',
    );
    this.name = 'DatabaseLockedError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirLock(dir: string): DirLock {
  const lockPath = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, command: process.argv.slice(1).join(' ') }));
      closeSync(fd);
      return {
        path: lockPath,
        release: () => {
          try {
            const held = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid?: number };
            if (held.pid === process.pid) unlinkSync(lockPath);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: { pid?: number; command?: string } = {};
      try {
        holder = JSON.parse(readFileSync(lockPath, 'utf8')) as typeof holder;
      } catch {
        // unreadable or half-written lock: its writer died mid-write, so it is stale
      }
      if (typeof holder.pid === 'number' && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new DatabaseLockedError(dir, holder.pid, holder.command ?? 'unknown command');
      }
      try {
        unlinkSync(lockPath);
      } catch {
        // another process cleared it first; try again
      }
    }
  }
  throw new Error(`Could not take the lock ${lockPath}; try again.`);
}
