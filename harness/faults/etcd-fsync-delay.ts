// etcd on a slow disk (Ceph-backed VMs, ~1 s commits, leader elections lost). The fault slows etcd's own disk
// syncs for real, on the real etcd process, from the host it runs on (this machine for kind's node containers, the
// node itself through faultline's agent pod: cluster/process-host.ts), in one of two ways:
// - strace (default): strace on that host attaches to etcd and delays every fdatasync/fsync on entry by delayMs.
//   Precise, but ptrace stops etcd on every syscall it makes, not only syncs.
// - blkio: the kernel throttles writes from etcd's cgroup to the disk under /var/lib/etcd to writeIops (cgroup
//   v1 blkio.throttle.write_iops_device, v2 io.max): a slow disk at the block layer, nothing else touched.
//   On this lab's VM, 10 IOPS gave WAL fsync ~0.5 s and commits ~0.9 s on average.
// etcd's WAL fsync and backend commit latencies rise in its own metrics; undoing it restores them.
//
// The journal record (written before anything changes) says how to undo it: for strace, the etcd host PID and
// a unique token in strace's command line, so revert (or `faultline recover` from another process) finds the
// strace by etcd's TracerPid or a /proc scan and stops it; for blkio, the cgroup, the device and the limit that
// was there before, which revert puts back unless etcd (and so its cgroup) has been replaced meanwhile.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { deviceOfPath, ioCgroupOf, setWriteIopsLimit, wholeDisk, writeIopsLimit, type IoCgroup } from '../cluster/blkio.js';
import { requireNodeAccess, targetControlPlaneNode } from '../cluster/node-access.js';
import { tracerPid, type ProcessHost } from '../cluster/process-host.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import { findOurStraces, stopProcess, straceArgv, tracerOf } from './strace-delay.js';
import type { Fault } from './types.js';

export const ETCD_DATA_DIR = '/var/lib/etcd';

export const FsyncDelayParams = z
  .object({
    /** how the disk is made slow: strace delaying syncs (delayMs), or the kernel throttling writes (writeIops) */
    mechanism: z.enum(['strace', 'blkio']).default('strace'),
    /** strace: delay added to every fdatasync/fsync of etcd, in milliseconds */
    delayMs: z.number().int().min(1).max(10_000).default(500),
    /** blkio: write operations per second etcd may send to its data disk */
    writeIops: z.number().int().min(1).max(100_000).default(10),
    /** control-plane node whose etcd is slowed (default: the first) */
    node: z.string().min(1).optional(),
  })
  .strict();
export type FsyncDelayParams = z.infer<typeof FsyncDelayParams>;

export interface StraceDelayRecord {
  /** absent in records written before blkio existed */
  mechanism?: 'strace';
  node: string;
  etcdHostPid: number;
  delayMs: number;
  token: string;
  straceOut: string;
}

export interface BlkioThrottleRecord {
  mechanism: 'blkio';
  node: string;
  etcdHostPid: number;
  cgroup: IoCgroup;
  /** "major:minor" of the disk under /var/lib/etcd */
  device: string;
  writeIops: number;
  /** the limit before the fault (0: none) */
  previousWriteIops: number;
}

export type FsyncDelayRecord = StraceDelayRecord | BlkioThrottleRecord;

async function resolveNode(ctx: RunContext, p: FsyncDelayParams): Promise<string> {
  if (p.node) return p.node;
  return targetControlPlaneNode(requireNodeAccess(ctx, 'etcd-fsync-delay needs a kind (or similar) cluster'));
}

/** etcd's cgroup and data disk, as the kernel sees them from the host */
export async function etcdDisk(host: ProcessHost, pid: number): Promise<{ cgroup: IoCgroup; device: string }> {
  const cgroup = await ioCgroupOf(host, pid);
  if (!cgroup || !(await host.exists(cgroup.dir))) throw new Error(`no block-I/O cgroup found for etcd (host pid ${pid}) on ${host.where}`);
  const dev = await deviceOfPath(host, pid, ETCD_DATA_DIR);
  if (!dev) throw new Error(`etcd's ${ETCD_DATA_DIR} (host pid ${pid}) is not on a block device; use mechanism strace`);
  return { cgroup, device: await wholeDisk(host, dev) };
}

async function planStrace(host: ProcessHost, node: string, pid: number, p: FsyncDelayParams): Promise<StraceDelayRecord> {
  if (!(await host.exists(host.strace))) throw new Error(`${host.strace} not found on ${host.where}: ${host.straceHint}`);
  const already = await tracerOf(host, pid);
  if (already) throw new Error(`etcd (host pid ${pid}) is already traced by pid ${already.pid} (${already.cmdline.join(' ')}); refusing to stack faults`);
  const token = `faultline-etcd-fsync-${randomBytes(6).toString('hex')}`;
  return { mechanism: 'strace', node, etcdHostPid: pid, delayMs: p.delayMs, token, straceOut: join(host.tmp, `${token}.strace`) };
}

async function planBlkio(host: ProcessHost, node: string, pid: number, p: FsyncDelayParams): Promise<BlkioThrottleRecord> {
  const { cgroup, device } = await etcdDisk(host, pid);
  const previousWriteIops = await writeIopsLimit(host, cgroup, device);
  if (previousWriteIops > 0) throw new Error(`etcd (host pid ${pid}) already has a write limit of ${previousWriteIops} IOPS on ${device} (${cgroup.dir}); refusing to stack faults`);
  return { mechanism: 'blkio', node, etcdHostPid: pid, cgroup, device, writeIops: p.writeIops, previousWriteIops };
}

async function applyStrace(ctx: RunContext, host: ProcessHost, r: StraceDelayRecord): Promise<void> {
  if ((await findOurStraces(host, r)).length > 0) {
    ctx.log(`strace ${r.token} already attached to etcd (host pid ${r.etcdHostPid})`);
    return;
  }
  const pid = await host.spawn(straceArgv(host.strace, r));
  // attached once etcd's TracerPid points at it
  for (let i = 0; i < 100; i++) {
    const t = await tracerPid(host, r.etcdHostPid);
    if (t === undefined) throw new Error(`etcd (host pid ${r.etcdHostPid}) is gone`);
    if (t && t === pid) break;
    if (!(await host.alive(pid))) throw new Error(`strace exited before attaching to etcd (host pid ${r.etcdHostPid}) on ${host.where}`);
    await sleep(100);
  }
  if ((await tracerPid(host, r.etcdHostPid)) !== pid) throw new Error(`strace (pid ${pid}) did not attach to etcd (host pid ${r.etcdHostPid}) within 10 s`);
  ctx.log(`strace pid ${pid} on ${host.where} attached to etcd (host pid ${r.etcdHostPid}, node ${r.node}): fdatasync/fsync delayed ${r.delayMs} ms`);
}

async function applyBlkio(ctx: RunContext, host: ProcessHost, r: BlkioThrottleRecord): Promise<void> {
  if (!(await host.alive(r.etcdHostPid)) || !(await host.exists(r.cgroup.dir))) throw new Error(`etcd (host pid ${r.etcdHostPid}) is gone`);
  await setWriteIopsLimit(host, r.cgroup, r.device, r.writeIops);
  ctx.log(`etcd (host pid ${r.etcdHostPid}, node ${r.node}) may write ${r.writeIops} IOPS to disk ${r.device} (${r.cgroup.dir} on ${host.where})`);
}

async function revertStrace(ctx: RunContext, host: ProcessHost, r: StraceDelayRecord): Promise<void> {
  const pids = await findOurStraces(host, r);
  if (pids.length === 0) ctx.log(`no strace ${r.token} left (etcd host pid ${r.etcdHostPid})`);
  for (const pid of pids) {
    const how = await stopProcess(host, pid);
    ctx.log(`strace pid ${pid} on etcd (host pid ${r.etcdHostPid}): ${how}`);
  }
  const left: number[] = [];
  for (const pid of await findOurStraces(host, r)) if (await host.alive(pid)) left.push(pid);
  if (left.length) throw new Error(`strace still running after SIGKILL: pid ${left.join(', ')}`);
  await host.remove(r.straceOut);
}

async function revertBlkio(ctx: RunContext, host: ProcessHost, r: BlkioThrottleRecord): Promise<void> {
  // a restarted etcd has a new cgroup without the limit; the old directory is gone with it
  if (!(await host.exists(r.cgroup.dir))) return void ctx.log(`etcd's cgroup ${r.cgroup.dir} is gone (etcd restarted); no limit left`);
  const now = await writeIopsLimit(host, r.cgroup, r.device);
  if (now === r.previousWriteIops) return void ctx.log(`etcd's write limit on ${r.device} is already ${now || 'none'}`);
  await setWriteIopsLimit(host, r.cgroup, r.device, r.previousWriteIops);
  ctx.log(`etcd's write limit on ${r.device}: ${now} IOPS -> ${r.previousWriteIops || 'none'} (${r.cgroup.dir})`);
}

export const etcdFsyncDelay: Fault<FsyncDelayParams, FsyncDelayRecord> = {
  type: 'etcd-fsync-delay',
  description: "slow the real etcd process's disk syncs: strace delaying fdatasync/fsync, or a kernel write-IOPS throttle on its cgroup",
  paramsSchema: FsyncDelayParams,

  async plan(ctx, p) {
    if (!ctx.provider.capabilities().hostPid) throw new Error(`provider ${ctx.provider.kind} cannot reach node processes (hostPid)`);
    const node = await resolveNode(ctx, p);
    const pid = await ctx.provider.hostPid(ctx.cluster, node, 'etcd');
    if (!pid) throw new Error(`no etcd process found on node ${node}`);
    const host = await ctx.provider.processes(ctx.cluster, node);
    return p.mechanism === 'blkio' ? planBlkio(host, node, pid, p) : planStrace(host, node, pid, p);
  },

  async apply(ctx, _p, r) {
    const host = await ctx.provider.processes(ctx.cluster, r.node);
    if (r.mechanism === 'blkio') await applyBlkio(ctx, host, r);
    else await applyStrace(ctx, host, r);
  },

  async revert(ctx, r) {
    const host = await ctx.provider.processes(ctx.cluster, r.node);
    if (r.mechanism === 'blkio') await revertBlkio(ctx, host, r);
    else await revertStrace(ctx, host, r);
  },

  describe(r) {
    if (r.mechanism === 'blkio') return `write limit of ${r.writeIops} IOPS on etcd's disk ${r.device} (node ${r.node}, host pid ${r.etcdHostPid}) removed`;
    return `strace delaying fsync of etcd (node ${r.node}, host pid ${r.etcdHostPid}, +${r.delayMs} ms) stopped`;
  },
};
