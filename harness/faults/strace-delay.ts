// strace attached to a node's process from the host it runs on (process-host.ts), delaying its fdatasync/fsync
// on entry; and finding and stopping such a strace again (by the traced process's TracerPid, or a scan of every
// command line for the injection's token).
import { procCmdline, tracerPid, type ProcessHost } from '../cluster/process-host.js';
import { sleep } from '../core/poll.js';

export interface StraceTarget {
  etcdHostPid: number;
  delayMs: number;
  /** unique per injection; part of strace's command line (the -o path) */
  token: string;
  straceOut: string;
}

export function straceArgv(strace: string, r: Pick<StraceTarget, 'etcdHostPid' | 'delayMs' | 'straceOut'>): string[] {
  const us = r.delayMs * 1000;
  return [
    strace,
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

/** Host pids of strace processes carrying this token: etcd's tracer first, then every other command line. */
export async function findOurStraces(host: ProcessHost, r: Pick<StraceTarget, 'etcdHostPid' | 'token'>): Promise<number[]> {
  const found = new Set<number>();
  const t = await tracerPid(host, r.etcdHostPid);
  if (t && isOurStrace(await procCmdline(host, t), r.token)) found.add(t);
  for (const [pid, cmdline] of await host.cmdlines()) if (!found.has(pid) && isOurStrace(cmdline, r.token)) found.add(pid);
  return [...found];
}

/** Any tracer attached to this pid (whoever started it): pid and command line. */
export async function tracerOf(host: ProcessHost, pid: number): Promise<{ pid: number; cmdline: string[] } | undefined> {
  const t = await tracerPid(host, pid);
  if (!t) return undefined;
  return { pid: t, cmdline: (await procCmdline(host, t)) ?? [] };
}

/** SIGTERM (strace detaches and restores normal syscalls), then SIGKILL if it is still there after graceMs. The
 *  grace is counted on the clock, not in polls: through an agent each look at the process is an exec of its own. */
export async function stopProcess(host: ProcessHost, pid: number, graceMs = 5_000, now: () => number = Date.now): Promise<'gone' | 'terminated' | 'killed'> {
  if (!(await host.alive(pid))) return 'gone';
  if (!(await host.signal(pid, 'SIGTERM'))) return 'gone';
  for (const until = now() + graceMs; now() < until; ) {
    if (!(await host.alive(pid))) return 'terminated';
    await sleep(100);
  }
  return (await host.signal(pid, 'SIGKILL')) ? 'killed' : 'terminated';
}
