// Incident 000 (second entry): etcd on a slow disk (Ceph-backed VMs, ~1 s commits). The fault slows etcd's
// own disk syncs for real: strace, on the host, attaches to the real etcd process (kind nodes are containers,
// so etcd is a host process) and delays every fdatasync/fsync on entry. etcd's WAL fsync and backend commit
// latencies rise in its own metrics; killing strace detaches it and latency is normal again.
//
// The journal record (written before strace starts) holds the etcd host PID and a unique token that is part
// of strace's command line (its -o file), so revert (or `faultline recover` from another process) finds the
// strace by etcd's TracerPid or by scanning /proc, checks its command line, and stops it.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { sleep } from '../engine/poll.js';
import { controlPlaneNodes, nodeAccess, pidAlive, procCmdline, tracerPid } from '../cluster/node-access.js';
import type { RunContext } from '../engine/context.js';
import type { Fault } from './types.js';

export const STRACE = process.env.FAULTLINE_STRACE ?? '/usr/bin/strace';

export const FsyncDelayParams = z
  .object({
    /** delay added to every fdatasync/fsync of etcd, in milliseconds */
    delayMs: z.number().int().min(1).max(10_000).default(500),
    /** control-plane node whose etcd is slowed (default: the first) */
    node: z.string().min(1).optional(),
  })
  .strict();
export type FsyncDelayParams = z.infer<typeof FsyncDelayParams>;

export interface FsyncDelayRecord {
  node: string;
  etcdHostPid: number;
  delayMs: number;
  /** unique per injection; part of strace's command line (the -o path) */
  token: string;
  straceOut: string;
}

export function straceArgv(r: Pick<FsyncDelayRecord, 'etcdHostPid' | 'delayMs' | 'straceOut'>): string[] {
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
export function findOurStraces(r: Pick<FsyncDelayRecord, 'etcdHostPid' | 'token'>, procRoot = '/proc'): number[] {
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

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function resolveNode(ctx: RunContext, p: FsyncDelayParams): Promise<string> {
  if (p.node) return p.node;
  const na = nodeAccess(ctx);
  if (!na) throw new Error(`provider ${ctx.provider.kind} has no node access; etcd-fsync-delay needs a kind (or similar) cluster`);
  const nodes = await controlPlaneNodes(na);
  if (!nodes[0]) throw new Error('no control-plane node');
  return nodes[0];
}

export const etcdFsyncDelay: Fault<FsyncDelayParams, FsyncDelayRecord> = {
  type: 'etcd-fsync-delay',
  description: "delay every fdatasync/fsync of the real etcd process (strace on the host): a slow etcd disk",
  paramsSchema: FsyncDelayParams,

  async plan(ctx, p) {
    if (!ctx.provider.capabilities().hostPid) throw new Error(`provider ${ctx.provider.kind} cannot reach node processes (hostPid)`);
    if (!existsSync(STRACE)) throw new Error(`${STRACE} not found on this host: install strace (apt-get install strace) or set FAULTLINE_STRACE`);
    const node = await resolveNode(ctx, p);
    const pid = await ctx.provider.hostPid(ctx.cluster, node, 'etcd');
    if (!pid) throw new Error(`no etcd process found on node ${node}`);
    const already = tracerOf(pid);
    if (already) throw new Error(`etcd (host pid ${pid}) is already traced by pid ${already.pid} (${already.cmdline.join(' ')}); refusing to stack faults`);
    const token = `faultline-etcd-fsync-${randomBytes(6).toString('hex')}`;
    return { node, etcdHostPid: pid, delayMs: p.delayMs, token, straceOut: join(tmpdir(), `${token}.strace`) };
  },

  async apply(ctx, _p, r) {
    if (findOurStraces(r).length > 0) {
      ctx.log(`strace ${r.token} already attached to etcd (host pid ${r.etcdHostPid})`);
      return;
    }
    const argv = straceArgv(r);
    const child = execa(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore', reject: false, cleanup: false });
    child.unref();
    child.catch(() => {});
    // attached once etcd's TracerPid points at it
    for (let i = 0; i < 100; i++) {
      const t = tracerPid(r.etcdHostPid);
      if (t === undefined) throw new Error(`etcd (host pid ${r.etcdHostPid}) is gone`);
      if (t && t === child.pid) break;
      if (child.exitCode !== null) throw new Error(`strace exited with ${child.exitCode} before attaching to etcd (host pid ${r.etcdHostPid})`);
      await sleep(100);
    }
    if (tracerPid(r.etcdHostPid) !== child.pid) throw new Error(`strace (pid ${child.pid}) did not attach to etcd (host pid ${r.etcdHostPid}) within 10 s`);
    ctx.log(`strace pid ${child.pid} attached to etcd (host pid ${r.etcdHostPid}, node ${r.node}): fdatasync/fsync delayed ${r.delayMs} ms`);
  },

  async revert(ctx, r) {
    const pids = findOurStraces(r);
    if (pids.length === 0) ctx.log(`no strace ${r.token} left (etcd host pid ${r.etcdHostPid})`);
    for (const pid of pids) {
      const how = await stopProcess(pid);
      ctx.log(`strace pid ${pid} on etcd (host pid ${r.etcdHostPid}): ${how}`);
    }
    const left = findOurStraces(r).filter((pid) => pidAlive(pid) && !isZombie(pid));
    if (left.length) throw new Error(`strace still running after SIGKILL: pid ${left.join(', ')}`);
    rmSync(r.straceOut, { force: true });
  },

  describe(r) {
    return `strace delaying fsync of etcd (node ${r.node}, host pid ${r.etcdHostPid}, +${r.delayMs} ms) stopped`;
  },
};
