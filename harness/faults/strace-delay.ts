// strace on the host, attached to a node's process, delaying its fdatasync/fsync on entry; and finding and
// stopping such a strace again (by the traced process's TracerPid, or a /proc scan for the injection's token).
import { readFileSync, readdirSync } from 'node:fs';
import { procCmdline, tracerPid } from '../cluster/node-access.js';
import { pidAlive } from '../core/processes.js';
import { sleep } from '../core/poll.js';

export const STRACE = process.env.FAULTLINE_STRACE ?? '/usr/bin/strace';

export interface StraceTarget {
  etcdHostPid: number;
  delayMs: number;
  /** unique per injection; part of strace's command line (the -o path) */
  token: string;
  straceOut: string;
}

export function straceArgv(r: Pick<StraceTarget, 'etcdHostPid' | 'delayMs' | 'straceOut'>): string[] {
  const us = r.delayMs * 1000;
  return [
    STRACE,
    '-f',
    '-qq',
    '-o',
    r.straceOut,
    '-e',
    'trace=fdatasync,fsync',
    '-e',
    `inject=fdatasync:delay_enter=${us}`,
    '-e',
    `inject=fsync:delay_enter=${us}`,
    '-p',
    String(r.etcdHostPid),
  ];
}

/** Is this command line the strace of this injection? */
export function isOurStrace(cmdline: string[] | undefined, token: string): boolean {
  if (!cmdline || cmdline.length === 0) return false;
  return /(^|\/)strace$/.test(cmdline[0]!) && cmdline.some((a) => a.includes(token));
}

/** Host pids of strace processes carrying this token: etcd's tracer first, then a /proc scan. */
export function findOurStraces(r: Pick<StraceTarget, 'etcdHostPid' | 'token'>, procRoot = '/proc'): number[] {
  const found = new Set<number>();
  const t = tracerPid(r.etcdHostPid, procRoot);
  if (t && isOurStrace(procCmdline(t, procRoot), r.token)) found.add(t);
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (!found.has(pid) && isOurStrace(procCmdline(pid, procRoot), r.token)) found.add(pid);
  }
  return [...found];
}

/** Any tracer attached to this pid (whoever started it): pid and command line. */
export function tracerOf(pid: number, procRoot = '/proc'): { pid: number; cmdline: string[] } | undefined {
  const t = tracerPid(pid, procRoot);
  if (!t) return undefined;
  return { pid: t, cmdline: procCmdline(t, procRoot) ?? [] };
}


/** SIGTERM (strace detaches and restores normal syscalls), then SIGKILL if it is still there. */
export async function stopProcess(pid: number, graceMs = 5_000): Promise<'gone' | 'terminated' | 'killed'> {
  if (!pidAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  for (let waited = 0; waited < graceMs; waited += 100) {
    if (!pidAlive(pid) || isZombie(pid)) return 'terminated';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  return 'killed';
}

export function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

