// Exclusive locks between faultline processes on one machine: one per journal (a run and `recover` must not
// both write it) and one per cluster (two runs must not capture each other's fault as "original"). A lock is a
// file created with O_EXCL holding its owner; an owner that has exited (PID gone, or reused by another
// process) leaves a stale lock that the next taker removes.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { identityAlive, thisProcess, type ProcessIdentity } from './processes.js';

export interface LockOwner extends ProcessIdentity {
  /** what holds it, as a person would recognise it: "faultline run etcd-slow-disk" */
  command: string;
  since: string;
  token: string;
}

export class LockHeld extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    super(`held by pid ${owner.pid} (${owner.command}, since ${owner.since})`);
    this.name = 'LockHeld';
  }
}

export function readLockOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof o?.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

export class Lock {
  private released = false;
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /** Removes the lock file if it is still this lock's (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (readLockOwner(this.path)?.token === this.owner.token) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/** Writes the owner to a temporary file and links it into place: the link fails if the lock exists, and a lock
 *  that exists always holds its whole owner (no reader ever sees it half-written). */
function tryCreate(path: string, owner: LockOwner): boolean {
  const tmp = `${path}.${owner.token}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Takes the lock or throws LockHeld naming the live owner. A stale lock is moved aside and taken. */
export function acquireLock(path: string, command: string, now: () => Date = () => new Date()): Lock {
  mkdirSync(dirname(path), { recursive: true });
  const owner: LockOwner = { ...thisProcess(), command, since: now().toISOString(), token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, owner)) {
      // another taker that found the same stale lock may have moved ours aside: only a file with our token counts
      if (readLockOwner(path)?.token === owner.token) return new Lock(path, owner);
      continue;
    }
    const held = readLockOwner(path);
    if (held && identityAlive(held)) throw new LockHeld(path, held);
    // stale (owner gone) or not a lock of ours: move it aside atomically, then try again
    const aside = `${path}.stale-${owner.token}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readLockOwner(aside);
    if (moved && moved.token !== held?.token && identityAlive(moved)) {
      // another taker replaced the stale lock between our read and our move: theirs goes back, and it is held
      try {
        linkSync(aside, path);
      } catch {
        // a third taker got there first; its own check sees its token
      }
      unlinkSync(aside);
      throw new LockHeld(path, moved);
    }
    unlinkSync(aside);
  }
  const held = readLockOwner(path);
  if (held) throw new LockHeld(path, held);
  throw new Error(`cannot take lock ${path}`);
}
