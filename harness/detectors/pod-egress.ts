// Pods that cannot reach anything outside the cluster while pod-to-pod traffic works: on their node, a rule in
// the nat table that no component owns lets their packets leave the pod network un-NATed (ahead of the CNI's
// MASQUERADE), so replies to the pods' own addresses have no way back. Reads each node's `iptables-save -t nat`
// (node access) and follows a pod packet to an address outside the cluster through POSTROUTING. A cluster whose
// pod addresses are routable (no masquerade on any node, nothing unowned on the way) is not a finding.
import type { KubeContext } from '../cluster/context.js';
import { nodeAccess, nodeSh } from '../cluster/node-access.js';
import { egressPath, hostIn, leftoverChains, ownedBy, parseNatTable, strandedNat, type EgressPath, type NatRule } from './nat-table.js';
import { scopedPods } from './snapshot.js';
import { resourceId, type Detector, type Finding } from './types.js';

/** An address outside any cluster (RFC 5737 TEST-NET-1) the walk sends the pod packet to. */
export const OUTSIDE = '192.0.2.1';

export interface NodeNat {
  node: string;
  podCidr?: string;
  /** `iptables-save -t nat` on the node, or why it could not be read */
  nat?: string;
  error?: string;
}

export interface PodEgressSnapshot {
  kind: 'pod-egress';
  nodes: NodeNat[];
  /** running pods on the pod network (not hostNetwork), "namespace/name" by node: the ones a broken node strands */
  pods?: Record<string, string[]>;
}

async function podsByNode(ctx: KubeContext): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const p of await scopedPods(ctx)) {
    if (p.status?.phase !== 'Running' || p.spec?.hostNetwork || !p.spec?.nodeName) continue;
    (out[p.spec.nodeName] ??= []).push(`${p.metadata?.namespace}/${p.metadata?.name}`);
  }
  return out;
}

export async function collectPodEgress(ctx: KubeContext): Promise<PodEgressSnapshot> {
  const na = nodeAccess(ctx);
  // without node access the nat tables cannot be read: nothing to say
  if (!na) return { kind: 'pod-egress', nodes: [] };
  const cidrs = new Map((await ctx.kube.core.listNode()).items.map((n) => [n.metadata?.name ?? '', n.spec?.podCIDR]));
  const nodes = await na.provider.nodes(na.cluster);
  return {
    kind: 'pod-egress',
    pods: await podsByNode(ctx),
    nodes: await Promise.all(
      nodes.map(async (n): Promise<NodeNat> => {
        const podCidr = cidrs.get(n.name);
        const res = await nodeSh(na, n.name, 'iptables-save -t nat', 15_000).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }));
        return { node: n.name, ...(podCidr ? { podCidr } : {}), ...(res.exitCode === 0 ? { nat: res.stdout } : { error: `iptables-save -t nat: ${res.stderr.trim() || `exit ${res.exitCode}`}` }) };
      }),
    ),
  };
}

/** "rule 1 of POSTROUTING: -j OLD_CNI_POST_nat" */
export const ruleText = (r: NatRule): string => `rule ${r.index} of ${r.chain}: ${r.spec}`;

/** The first rule on the packet's way that no component owns (the jump into a stale chain, or the rule itself). */
export function unownedOnPath(p: EgressPath): NatRule | undefined {
  return p.path.find((r) => !ownedBy(r));
}

/** Why a node's pods leave un-NATed: a rule no component owns on the packet's way, or the masquerade stranded in
 *  a chain nothing enters. */
export interface Cause {
  kind: 'unowned' | 'stranded';
  rule: NatRule;
}

export interface NodeVerdict {
  node: string;
  podCidr: string;
  path: EgressPath;
  cause?: Cause;
  orphans: string[];
}

export function verdicts(s: PodEgressSnapshot): NodeVerdict[] {
  return s.nodes.flatMap((n) => {
    if (!n.nat || !n.podCidr) return [];
    const t = parseNatTable(n.nat);
    const src = hostIn(n.podCidr);
    const path = egressPath(t, src, OUTSIDE);
    const unowned = path.outcome === 'not-natted' ? unownedOnPath(path) : undefined;
    const stranded = path.outcome === 'not-natted' && !unowned ? strandedNat(t, src, OUTSIDE)[0] : undefined;
    const cause: Cause | undefined = unowned ? { kind: 'unowned', rule: unowned } : stranded ? { kind: 'stranded', rule: stranded } : undefined;
    return [{ node: n.node, podCidr: n.podCidr, path, ...(cause ? { cause } : {}), orphans: leftoverChains(t) }];
  });
}

/** The user chain a stale rule is, or leads into (undefined: the rule sits in POSTROUTING and decides itself). */
export function staleChain(r: NatRule): string | undefined {
  if (r.chain !== 'POSTROUTING') return r.chain;
  return r.target && !['ACCEPT', 'RETURN', 'MASQUERADE', 'SNAT'].includes(r.target) ? r.target : undefined;
}

const decided = (p: EgressPath): string => (p.decidedBy ? ruleText(p.decidedBy) : 'no rule NATs it (the end of POSTROUTING)');

function causeText(c: Cause): { summary: string; change: string } {
  const r = c.rule;
  if (c.kind === 'stranded') {
    return {
      summary: `the MASQUERADE for their traffic is in chain ${r.chain}, which nothing references (${ruleText(r)})`,
      change: `flush chain ${r.chain} (iptables -t nat -F ${r.chain}) so the component that left it can write its live rules again, and delete it`,
    };
  }
  const chain = staleChain(r);
  return {
    summary: `${ruleText(r)}, which no component owns, takes their traffic before any MASQUERADE`,
    change: `delete the rule (iptables -t nat -D ${r.chain} ${r.spec})${chain ? `, then flush chain ${chain} (iptables -t nat -F ${chain}) and delete it` : ''}`,
  };
}

export function analyzePodEgress(s: PodEgressSnapshot): Finding[] {
  if (s.kind !== 'pod-egress') return [];
  const all = verdicts(s);
  const broken = all.filter((v) => v.cause);
  if (broken.length === 0) return [];
  const fine = all.filter((v) => v.path.outcome === 'masqueraded');
  const first = broken[0]!;
  const names = broken.map((v) => v.node);
  const masq = fine[0]?.path.decidedBy;
  const { summary, change } = causeText(first.cause!);
  const stranded = names.flatMap((n) => s.pods?.[n] ?? []);
  return [
    {
      detector: 'pod-egress',
      severity: 'critical',
      summary: `pods on ${names.length === 1 ? 'node' : 'nodes'} ${names.join(', ')} leave the pod network without NAT: ${summary}`,
      rootCause:
        `on ${names.join(', ')}, ${decided(first.path)} ends the nat table's walk for a pod's packet to an address outside the cluster, so it leaves with the pod's own address: ` +
        `the reply has no route back to it and connections time out, while pod-to-pod traffic (no NAT needed) works` +
        `${masq ? `; on ${fine.map((v) => v.node).join(', ')} the same packet is masqueraded (${ruleText(masq)})` : ''}. ` +
        `To change: on each of those nodes ${change}`,
      evidence: [
        ...broken.map((v) => `node ${v.node}: a packet from ${hostIn(v.podCidr)} to ${OUTSIDE} goes ${v.path.path.map((r) => `${r.chain} rule ${r.index}`).join(' → ') || 'through no rule'}: not NATed (${decided(v.path)})`),
        ...fine.map((v) => `node ${v.node}: masqueraded (${decided(v.path)})`),
        ...[...new Set(all.flatMap((v) => v.orphans.map((c) => `chain ${c} has no references on ${v.node}`)))],
        ...s.nodes.filter((n) => n.error).map((n) => `node ${n.node}: ${n.error}`),
        ...(stranded.length ? [`pods on the pod network there (${stranded.length}): ${stranded.slice(0, 10).join(', ')}${stranded.length > 10 ? ', ...' : ''}`] : []),
      ],
      runbook: 'stale-nat-rule',
      resources: [...names.map((n) => resourceId('', 'Node', n)), ...stranded.map((id) => resourceId(id.split('/')[0]!, 'Pod', id.split('/')[1]!))],
    },
  ];
}

export const podEgressDetector: Detector<PodEgressSnapshot> = {
  id: 'pod-egress',
  description: "pods whose traffic to outside the cluster leaves un-NATed because of a nat rule no component owns (node-level: each node's nat table)",
  collect: collectPodEgress,
  analyze: analyzePodEgress,
};
