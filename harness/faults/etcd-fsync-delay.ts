// etcd on a slow disk (Ceph-backed VMs, ~1 s commits, leader elections lost). The fault slows etcd's own disk
// syncs for real, on the real etcd process (kind nodes are containers, so etcd is a host process), in one of two
// ways:
// - strace (default): strace on the host attaches to etcd and delays every fdatasync/fsync on entry by delayMs.
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
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { deviceOfPath, ioCgroupOf, setWriteIopsLimit, wholeDisk, writeIopsLimit, type IoCgroup } from '../cluster/blkio.js';
import { requireNodeAccess, targetControlPlaneNode, tracerPid } from '../cluster/node-access.js';
import { pidAlive } from '../core/processes.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import { findOurStraces, isZombie, STRACE, stopProcess, straceArgv, tracerOf } from './strace-delay.js';
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
export function etcdDisk(pid: number): { cgroup: IoCgroup; device: string } {
  const cgroup = ioCgroupOf(pid);
  if (!cgroup || !existsSync(cgroup.dir)) throw new Error(`no block-I/O cgroup found for etcd (host pid ${pid})`);
  const dev = deviceOfPath(pid, ETCD_DATA_DIR);
  if (!dev) throw new Error(`etcd's ${ETCD_DATA_DIR} (host pid ${pid}) is not on a block device; use mechanism strace`);
  return { cgroup, device: wholeDisk(dev) };
}

function planStrace(node: string, pid: number, p: FsyncDelayParams): StraceDelayRecord {
  if (!existsSync(STRACE)) throw new Error(`${STRACE} not found on this host: install strace (apt-get install strace) or set FAULTLINE_STRACE`);
  const already = tracerOf(pid);
  if (already) throw new Error(`etcd (host pid ${pid}) is already traced by pid ${already.pid} (${already.cmdline.join(' ')}); refusing to stack faults`);
  const token = `faultline-etcd-fsync-${randomBytes(6).toString('hex')}`;
  return { mechanism: 'strace', node, etcdHostPid: pid, delayMs: p.delayMs, token, straceOut: join(tmpdir(), `${token}.strace`) };
}

function planBlkio(node: string, pid: number, p: FsyncDelayParams): BlkioThrottleRecord {
  const { cgroup, device } = etcdDisk(pid);
  const previousWriteIops = writeIopsLimit(cgroup, device);
  if (previousWriteIops > 0) throw new Error(`etcd (host pid ${pid}) already has a write limit of ${previousWriteIops} IOPS on ${device} (${cgroup.dir}); refusing to stack faults`);
  return { mechanism: 'blkio', node, etcdHostPid: pid, cgroup, device, writeIops: p.writeIops, previousWriteIops };
}

async function applyStrace(ctx: RunContext, r: StraceDelayRecord): Promise<void> {
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
}

function applyBlkio(ctx: RunContext, r: BlkioThrottleRecord): void {
  if (!pidAlive(r.etcdHostPid) || !existsSync(r.cgroup.dir)) throw new Error(`etcd (host pid ${r.etcdHostPid}) is gone`);
  setWriteIopsLimit(r.cgroup, r.device, r.writeIops);
  ctx.log(`etcd (host pid ${r.etcdHostPid}, node ${r.node}) may write ${r.writeIops} IOPS to disk ${r.device} (${r.cgroup.dir})`);
}

async function revertStrace(ctx: RunContext, r: StraceDelayRecord): Promise<void> {
  const pids = findOurStraces(r);
  if (pids.length === 0) ctx.log(`no strace ${r.token} left (etcd host pid ${r.etcdHostPid})`);
  for (const pid of pids) {
    const how = await stopProcess(pid);
    ctx.log(`strace pid ${pid} on etcd (host pid ${r.etcdHostPid}): ${how}`);
  }
  const left = findOurStraces(r).filter((pid) => pidAlive(pid) && !isZombie(pid));
  if (left.length) throw new Error(`strace still running after SIGKILL: pid ${left.join(', ')}`);
  rmSync(r.straceOut, { force: true });
}

function revertBlkio(ctx: RunContext, r: BlkioThrottleRecord): void {
  // a restarted etcd has a new cgroup without the limit; the old directory is gone with it
  if (!existsSync(r.cgroup.dir)) return void ctx.log(`etcd's cgroup ${r.cgroup.dir} is gone (etcd restarted); no limit left`);
  const now = writeIopsLimit(r.cgroup, r.device);
  if (now === r.previousWriteIops) return void ctx.log(`etcd's write limit on ${r.device} is already ${now || 'none'}`);
  setWriteIopsLimit(r.cgroup, r.device, r.previousWriteIops);
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
    return p.mechanism === 'blkio' ? planBlkio(node, pid, p) : planStrace(node, pid, p);
  },

  async apply(ctx, _p, r) {
    if (r.mechanism === 'blkio') applyBlkio(ctx, r);
    else await applyStrace(ctx, r);
  },

  async revert(ctx, r) {
    if (r.mechanism === 'blkio') revertBlkio(ctx, r);
    else await revertStrace(ctx, r);
  },

  describe(r) {
    if (r.mechanism === 'blkio') return `write limit of ${r.writeIops} IOPS on etcd's disk ${r.device} (node ${r.node}, host pid ${r.etcdHostPid}) removed`;
    return `strace delaying fsync of etcd (node ${r.node}, host pid ${r.etcdHostPid}, +${r.delayMs} ms) stopped`;
  },
};
