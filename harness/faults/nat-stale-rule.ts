// A stale rule in the nodes' nat table, the way a CNI's failed reconcile leaves one: a chain no component owns,
// entered first from POSTROUTING, whose rule ACCEPTs pod traffic leaving the pod network. ACCEPT ends the nat
// table's walk, so the CNI's MASQUERADE behind it never runs: the pods' packets leave with their own addresses and
// the replies have no way back, while pod-to-pod traffic (no NAT) works. The journal holds each node's nat table
// as captured (comments and counters out, kube-proxy's per-Service chains out); revert removes the chain and checks
// every node's table is as captured.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { nodeSh, requireNodeAccess, type NodeAccess } from '../cluster/node-access.js';
import { natForCompare, natShell as nat } from '../detectors/nat-table.js';
import type { Fault } from './types.js';

const Cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR such as 10.244.0.0/16');

export const NatStaleRuleParams = z
  .object({
    /** the stale chain's name (a backup chain a CNI left behind) */
    chain: z.string().regex(/^[A-Za-z0-9_-]{1,28}$/).default('OLD_CNI_POST_nat'),
    /** the cluster's pod network: traffic from it to anywhere else is what the rule takes */
    podNetwork: Cidr.default('10.244.0.0/16'),
    comment: z.string().regex(/^[A-Za-z0-9 _.:-]{1,200}$/).default('cni masquerade non-cluster'),
    /** the nodes that get the rule: the workers (every node on a cluster without workers), or all */
    nodes: z.enum(['workers', 'all']).default('workers'),
  })
  .strict();
export type NatStaleRuleParams = z.infer<typeof NatStaleRuleParams>;

export interface NatStaleRuleRecord {
  chain: string;
  /** the rule's words after "-A <chain>" */
  rule: string[];
  nodes: Array<{ node: string; before: string[] }>;
}

const need = (ctx: RunContext): NodeAccess => requireNodeAccess(ctx, 'nat-stale-rule changes each node\'s nat table');

async function sh(na: NodeAccess, node: string, script: string): Promise<string> {
  const res = await nodeSh(na, node, script, 30_000);
  if (res.exitCode !== 0) throw new Error(`on ${node}: ${res.stderr.trim() || `exit ${res.exitCode}`}`);
  return res.stdout;
}

async function targets(na: NodeAccess, which: NatStaleRuleParams['nodes']): Promise<string[]> {
  const nodes = await na.provider.nodes(na.cluster);
  const workers = nodes.filter((n) => !n.roles.some((r) => r === 'control-plane' || r === 'master'));
  return (which === 'workers' && workers.length ? workers : nodes).map((n) => n.name);
}

/** Lines of one table missing from the other, both ways (for a revert that did not come back as captured). */
function differences(before: string[], after: string[]): string[] {
  const a = new Set(after);
  const b = new Set(before);
  return [...before.filter((l) => !a.has(l)).map((l) => `missing: ${l}`), ...after.filter((l) => !b.has(l)).map((l) => `extra: ${l}`)];
}

export const natStaleRule: Fault<NatStaleRuleParams, NatStaleRuleRecord> = {
  type: 'nat-stale-rule',
  description: 'a chain no component owns, entered first from nat POSTROUTING, that ACCEPTs pod traffic leaving the pod network (ahead of the CNI\'s MASQUERADE)',
  paramsSchema: NatStaleRuleParams,

  async plan(ctx, p) {
    const na = need(ctx);
    const nodes = [];
    for (const node of await targets(na, p.nodes)) {
      const table = await sh(na, node, 'iptables-save -t nat');
      if (table.split('\n').some((l) => l.startsWith(`:${p.chain} `))) throw new Error(`chain ${p.chain} already exists in the nat table of ${node}; it is not faultline's`);
      nodes.push({ node, before: natForCompare(table) });
    }
    return { chain: p.chain, rule: ['-s', p.podNetwork, '!', '-d', p.podNetwork, '-m', 'comment', '--comment', p.comment, '-j', 'ACCEPT'], nodes };
  },

  async apply(ctx, _p, r) {
    const na = need(ctx);
    for (const { node } of r.nodes) {
      // each step only if not done yet: apply is idempotent
      await sh(na, node, [
        `${nat('-L', r.chain, '-n')} >/dev/null 2>&1 || ${nat('-N', r.chain)}`,
        `${nat('-C', r.chain, ...r.rule)} 2>/dev/null || ${nat('-A', r.chain, ...r.rule)}`,
        `${nat('-C', 'POSTROUTING', '-j', r.chain)} 2>/dev/null || ${nat('-I', 'POSTROUTING', '1', '-j', r.chain)}`,
      ].join(' && '));
      ctx.log(`nat table of ${node}: POSTROUTING rule 1 jumps to ${r.chain}, which ACCEPTs ${r.rule[1]} traffic leaving it`);
    }
  },

  async revert(ctx, r) {
    const na = need(ctx);
    const failed: string[] = [];
    for (const { node, before } of r.nodes) {
      try {
        const after = await sh(na, node, [
          `while ${nat('-D', 'POSTROUTING', '-j', r.chain)} 2>/dev/null; do :; done`,
          `if ${nat('-L', r.chain, '-n')} >/dev/null 2>&1; then ${nat('-F', r.chain)} && ${nat('-X', r.chain)}; fi`,
          'iptables-save -t nat',
        ].join('\n'));
        const diff = differences(before, natForCompare(after));
        if (diff.length) failed.push(`${node}: nat table not as captured (${diff.slice(0, 3).join('; ')})`);
        else ctx.log(`nat table of ${node} as captured (chain ${r.chain} gone)`);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    if (failed.length) throw new Error(failed.join('; '));
  },

  describe(r) {
    return `chain ${r.chain} and its POSTROUTING jump removed from the nat table of ${r.nodes.map((n) => n.node).join(', ')}`;
  },
};
