// Whether a process recorded earlier is still the same process: a PID alone is reused by the kernel, so an
// owner is a PID plus its start time (field 22 of /proc/<pid>/stat, clock ticks since boot).
import { readFileSync } from 'node:fs';

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's start time as /proc gives it, or null where /proc cannot tell (not Linux, no such process). */
export function processStartTime(pid: number, procRoot = '/proc'): string | null {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may itself hold spaces or parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall: fields[0] is field 3
  } catch {
    return null;
  }
}

export interface ProcessIdentity {
  pid: number;
  /** null when it could not be read; then only the PID is compared */
  startTime: string | null;
}

export function thisProcess(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

/** True while the recorded process runs; false once it has exited, even if its PID now belongs to another. */
export function identityAlive(id: ProcessIdentity): boolean {
  if (!pidAlive(id.pid)) return false;
  if (id.startTime === null) return true;
  const now = processStartTime(id.pid);
  return now === null || now === id.startTime;
}
