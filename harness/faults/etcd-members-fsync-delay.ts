// Several etcd members on slow disks at once, and the others on fast ones: the shape of a control plane whose
// nodes sit on network storage but for one on a local disk. Each slowed member gets the etcd-fsync-delay fault
// (the real mechanism, strace or blkio, on the real etcd process); the record holds one such record per member,
// all planned before anything changes, so revert (and `faultline recover`) undoes every member, also after an
// apply that stopped half-way.
import { z } from 'zod';
import { controlPlaneNodes, requireNodeAccess } from '../cluster/node-access.js';
import { errorMessage } from '../core/errors.js';
import { etcdFsyncDelay, FsyncDelayParams, type FsyncDelayRecord } from './etcd-fsync-delay.js';
import type { Fault } from './types.js';

export const MembersFsyncDelayParams = FsyncDelayParams.omit({ node: true })
  .extend({
    /** how many members are slowed: the first N control-plane nodes by name; at least one member stays fast */
    slowMembers: z.number().int().min(1).max(10).default(2),
  })
  .strict();
export type MembersFsyncDelayParams = z.infer<typeof MembersFsyncDelayParams>;

export interface MembersFsyncDelayRecord {
  members: FsyncDelayRecord[];
  /** the members left as they were */
  fast: string[];
}

/** Pure: which members are slowed, and which stay fast. */
export function chooseMembers(nodes: string[], slowMembers: number): { slow: string[]; fast: string[] } {
  const sorted = [...nodes].sort();
  if (sorted.length <= slowMembers) {
    throw new Error(`${slowMembers} slow member(s) need at least ${slowMembers + 1} control-plane nodes (one stays fast); the cluster has ${sorted.length}: use kind-configs/ha.yaml`);
  }
  return { slow: sorted.slice(0, slowMembers), fast: sorted.slice(slowMembers) };
}

export const etcdMembersFsyncDelay: Fault<MembersFsyncDelayParams, MembersFsyncDelayRecord> = {
  type: 'etcd-members-fsync-delay',
  description: "slow the disks of several etcd members at once (etcd-fsync-delay on each), leaving at least one fast",
  paramsSchema: MembersFsyncDelayParams,

  async plan(ctx, p) {
    const na = requireNodeAccess(ctx, 'etcd-members-fsync-delay needs node access to the control-plane nodes');
    const { slow, fast } = chooseMembers(await controlPlaneNodes(na), p.slowMembers);
    const { slowMembers: _, ...one } = p;
    const members: FsyncDelayRecord[] = [];
    for (const node of slow) members.push(await etcdFsyncDelay.plan(ctx, { ...one, node }));
    return { members, fast };
  },

  async apply(ctx, p, r) {
    const { slowMembers: _, ...one } = p;
    for (const m of r.members) await etcdFsyncDelay.apply(ctx, { ...one, node: m.node }, m);
  },

  async revert(ctx, r) {
    // every member is tried: one that cannot be reverted does not leave the others slow
    const failed: string[] = [];
    for (const m of [...r.members].reverse()) {
      try {
        await etcdFsyncDelay.revert(ctx, m);
      } catch (err) {
        failed.push(`${m.node}: ${errorMessage(err)}`);
      }
    }
    if (failed.length) throw new Error(`etcd members not reverted: ${failed.join('; ')}`);
  },

  describe(r) {
    return `${r.members.map((m) => etcdFsyncDelay.describe(m)).join('; ')} (fast, untouched: ${r.fast.join(', ')})`;
  },
};
