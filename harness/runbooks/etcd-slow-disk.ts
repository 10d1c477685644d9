// Runbook for etcd on a slow (Ceph-backed) disk. The incident compared members' commit latency, found the members
// on Ceph-backed disks slow (~1 s) and the one on a local disk fast (~30 ms), and moved the control plane's
// storage to local disks. In this lab the "slow disk" is a tracer delaying etcd's syncs, so "moving etcd to a
// healthy disk" is stopping what slows the disk under it.
import { z } from 'zod';
import { secondsSchema } from '../core/durations.js';
import { controlPlaneNodes, nodeSh, type NodeAccess, requireNodeAccess } from '../cluster/node-access.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import { COMMIT_P99_MAX, describeMember, memberLatency, WAL_FSYNC_P99_MAX, type MemberSample } from '../detectors/etcd-disk-analysis.js';
import { sampleMember } from '../detectors/etcd-disk-sampling.js';
import { fmtSeconds } from '../detectors/prom-text.js';
import type { Finding } from '../detectors/types.js';
import { setWriteIopsLimit, writeIopsLimit } from '../cluster/blkio.js';
import { etcdDisk } from '../faults/etcd-fsync-delay.js';
import { stopProcess, tracerOf } from '../faults/strace-delay.js';
import type { ProcessHost } from '../cluster/process-host.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z
  .object({
    namespace: z.string().min(1).optional(),
    /** leader-elected components must not restart during this window */
    stableSeconds: secondsSchema().default(30),
    /** latency window of the fresh scrape */
    windowSeconds: secondsSchema().default(10),
  })
  .strict();

/** Pure: which members are slow (slowest first), from samples of every member. */
export function pickSlowMembers(members: MemberSample[]): { slow: MemberSample[]; lines: string[] } {
  const ranked = members
    .map((m) => ({ m, l: memberLatency(m) }))
    .sort((a, b) => (b.l.commitP99 ?? 0) - (a.l.commitP99 ?? 0) || (b.l.walP99 ?? 0) - (a.l.walP99 ?? 0));
  const lines = ranked.map(({ m, l }) => `${m.node}: backend commit p99 ${fmtSeconds(l.commitP99)}, WAL fsync p99 ${fmtSeconds(l.walP99)}${l.slow ? '  <- slow' : '  (fast)'}`);
  return { slow: ranked.filter((r) => r.l.slow).map((r) => r.m), lines };
}

async function sampleAll(na: NodeAccess, windowMs: number, signal?: AbortSignal): Promise<MemberSample[]> {
  const nodes = await controlPlaneNodes(na);
  return Promise.all(nodes.map((n) => sampleMember(na, n, { fresh: true, windowMs, signal })));
}

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, `compare etcd members' commit latency from your monitoring instead`);
}

const isSyncDelayingStrace = (cmdline: string[]) => /(^|\/)strace$/.test(cmdline[0] ?? '') && cmdline.some((a) => /inject=f(data)?sync/.test(a));

/** a kernel write limit on etcd's data disk, if its cgroup has one */
async function diskThrottle(host: ProcessHost, pid: number): Promise<(Awaited<ReturnType<typeof etcdDisk>> & { iops: number }) | undefined> {
  try {
    const disk = await etcdDisk(host, pid);
    const iops = await writeIopsLimit(host, disk.cgroup, disk.device);
    return iops > 0 ? { ...disk, iops } : undefined;
  } catch {
    return undefined;
  }
}

/** What backs a member's data dir, and what slows it in this lab (a tracer, a write limit). */
async function diskDetails(ctx: RunContext, na: NodeAccess, node: string): Promise<string[]> {
  const details: string[] = [];
  const disk = await nodeSh(na, node, "df -P /var/lib/etcd | tail -n 1; echo; awk '$2==\"/var/lib/etcd\" || $2==\"/var\" || $2==\"/\" {print $1, $2, $3}' /proc/mounts").catch(() => undefined);
  if (disk) details.push(`data dir /var/lib/etcd on ${node}:`, ...disk.stdout.trim().split('\n').filter(Boolean).map((l) => `  ${l}`));
  const pid = await ctx.provider.hostPid(ctx.cluster, node, 'etcd').catch(() => undefined);
  const host = pid ? await ctx.provider.processes(ctx.cluster, node).catch(() => undefined) : undefined;
  const tracer = pid && host ? await tracerOf(host, pid) : undefined;
  if (tracer) details.push(`etcd on ${node} (host pid ${pid}) is being traced by pid ${tracer.pid}: ${tracer.cmdline.join(' ')}`);
  const throttle = pid && host ? await diskThrottle(host, pid) : undefined;
  if (throttle) details.push(`etcd's cgroup on ${node} may write only ${throttle.iops} IOPS to its data disk ${throttle.device} (${throttle.cgroup.dir})`);
  return details;
}

/** Moves one member to a healthy disk: in this lab, removes what makes the disk under it slow. */
async function healMember(ctx: RunContext, node: string): Promise<{ actions: string[]; manual: boolean }> {
  const pid = await ctx.provider.hostPid(ctx.cluster, node, 'etcd');
  if (!pid) throw new Error(`no etcd process on ${node}`);
  const host = await ctx.provider.processes(ctx.cluster, node);
  const actions: string[] = [];
  const throttle = await diskThrottle(host, pid);
  if (throttle) {
    await setWriteIopsLimit(host, throttle.cgroup, throttle.device, 0);
    actions.push(`moved etcd on ${node} to a healthy disk: removed the ${throttle.iops} IOPS write limit on ${throttle.device} from its cgroup`);
  }
  const tracer = await tracerOf(host, pid);
  if (tracer && !isSyncDelayingStrace(tracer.cmdline)) {
    return { manual: true, actions: [...actions, `etcd on ${node} is traced by pid ${tracer.pid} (${tracer.cmdline.join(' ')}), which is not a syscall-delaying strace; not touching it`] };
  }
  if (tracer) {
    const how = await stopProcess(host, tracer.pid);
    actions.push(`moved etcd on ${node} to a healthy disk: stopped pid ${tracer.pid} (${tracer.cmdline.slice(0, 8).join(' ')} ...) delaying etcd's fsync (${how})`);
  }
  if (actions.length === 0) {
    return { manual: true, actions: [`nothing in this lab slows etcd's disk on ${node}: move /var/lib/etcd to a local, low-latency disk (the incident moved control-plane storage off Ceph)`] };
  }
  return { manual: false, actions };
}

export const etcdSlowDiskRunbook: Runbook = {
  id: 'etcd-slow-disk',
  title: 'etcd on a slow disk (high WAL fsync / backend commit latency)',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding: Finding): Promise<Diagnosis> {
    const na = needNodes(ctx);
    const members = await sampleAll(na, 5_000, ctx.signal);
    const { slow, lines } = pickSlowMembers(members);
    const fromFinding = parseResource(finding.resources[0] ?? '').name.replace(/^etcd-/, '');
    const nodes = slow.length ? slow.map((m) => m.node) : [fromFinding];
    const details = ['members by backend commit p99 (fresh 5 s window):', ...lines.map((l) => `  ${l}`)];
    const now = new Date().toISOString();
    for (const node of nodes) details.push(...(await diskDetails(ctx, na, node)));
    const fast = members.filter((m) => !nodes.includes(m.node)).map((m) => m.node);
    return {
      runbook: 'etcd-slow-disk',
      summary: `etcd member(s) ${nodes.join(', ')} ${nodes.length > 1 ? 'are' : 'is'} slow${slow.length === 1 ? ` (${describeMember(slow[0]!, now)})` : ''}${fast.length ? `, ${fast.join(', ')} fast` : ''}; the disk under /var/lib/etcd cannot keep up`,
      details,
      data: { nodes },
    };
  },

  async remediate(ctx, diagnosis) {
    const nodes = diagnosis.data.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) throw new Error('the diagnosis names no slow etcd member');
    const actions: string[] = [];
    let manual = false;
    // one member at a time, as the incident's fix moved them
    for (const node of nodes) {
      const r = await healMember(ctx, node);
      actions.push(...r.actions);
      manual ||= r.manual;
    }
    if (!manual) ctx.log(actions.join('; '));
    return { mode: manual ? 'manual' : 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const na = needNodes(ctx);
    const windowStart = Date.now();
    const before = await sampleAll(na, p.windowSeconds * 1000, ctx.signal);
    const rest = Math.max(0, p.stableSeconds - p.windowSeconds);
    if (rest > 0) await sleep(rest * 1000, ctx.signal);
    const after = await sampleAll(na, 1_000, ctx.signal);
    const details: string[] = [];
    let ok = true;
    for (const m of before) {
      const l = memberLatency(m);
      const fast = (l.walP99 ?? 0) <= WAL_FSYNC_P99_MAX && (l.commitP99 ?? 0) <= COMMIT_P99_MAX;
      ok &&= fast && !m.error;
      details.push(`${m.node}: WAL fsync p99 ${fmtSeconds(l.walP99)}, backend commit p99 ${fmtSeconds(l.commitP99)} over a fresh ${m.windowSeconds.toFixed(0)} s window${fast ? '' : ' (still slow)'}`);
      const a = after.find((x) => x.node === m.node);
      // leader stability: no election seen by this member over the window (a restarted member's counter starts over)
      if (m.leaderChanges !== undefined && a?.leaderChanges !== undefined) {
        const elections = Math.max(0, a.leaderChanges - m.leaderChanges);
        if (elections > 0) ok = false;
        details.push(`${m.node}: ${elections} leader change(s) over ${p.stableSeconds} s`);
      }
      for (const [c, n] of Object.entries(m.restarts)) {
        const now = a?.restarts[c] ?? n;
        if (now !== n) ok = false;
        details.push(`${m.node}: ${c} restarts ${n} -> ${now} over ${p.stableSeconds} s`);
      }
    }
    return { ok, details, ...(ok ? { healthySince: windowStart } : {}) };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: etcd on a slow disk

**Signature.** etcd's \`etcd_disk_wal_fsync_duration_seconds\` p99 above ${fmtSeconds(WAL_FSYNC_P99_MAX)} (healthy: a few ms)
or \`etcd_disk_backend_commit_duration_seconds\` p99 above ${fmtSeconds(COMMIT_P99_MAX)}; etcd logs
\`apply request took too long\`; \`etcd_server_leader_changes_seen_total\` climbs; leader-elected components
(kube-controller-manager, kube-scheduler, operators) restart after losing their lease. The standard alert
(etcdHighFsyncDurations) waits 10 minutes.

**Diagnose.** Compare members: \`histogram_quantile(0.99, sum(rate(etcd_disk_backend_commit_duration_seconds_bucket[5m])) by (instance, le))\`.
The slow member(s) name the slow disk; look at what backs \`/var/lib/etcd\` there (\`df /var/lib/etcd\`, the
mount, the hypervisor's storage: network/Ceph volumes are the usual culprit). Raising etcd's timeouts hides it.
\`faultline doctor\` reads each member's metrics through the node (a recent window, not totals since boot).

**Remediate.** Move etcd's data dir to a local, low-latency disk (one member at a time: stop the static pod by
moving its manifest away, copy /var/lib/etcd, remount, move the manifest back). In the faultline lab the slow
disk is either a tracer (strace) delaying etcd's fdatasync/fsync, which the runbook finds through etcd's
\`/proc/<pid>/status\` TracerPid and stops, or a kernel write-IOPS limit on etcd's cgroup for the disk under
/var/lib/etcd, which the runbook removes.

**Verify.** A fresh scrape window shows WAL fsync p99 < ${fmtSeconds(WAL_FSYNC_P99_MAX)} and commit p99 < ${fmtSeconds(COMMIT_P99_MAX)} on every member,
and kube-controller-manager / kube-scheduler do not restart for a stable window (30 s).
`;
