// Containers the CFS quota of their CPU limit throttles, from the kubelet's cAdvisor counters read through the
// API (no node access needed): the share of periods throttled, the time held back, the average use against the
// limit, and the pod's QoS class. A one-shot scan (doctor) judges each container over its life so far; the
// scans of a run reuse their earlier readings, so each judges the window since the last one.
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeContext } from '../cluster/context.js';
import { analyzeCpuThrottling, cpuMillis, windowBetween, type ContainerCpu, type CpuThrottlingSnapshot } from './cpu-throttling-analysis.js';
import { key, scrapeNodeCpu, type CpuCounters } from './cadvisor.js';
import { scopedPods } from './snapshot.js';
import type { Detector } from './types.js';

/** An earlier reading is reused as a window's start only when it is at least this old (cAdvisor reads each
 *  cgroup every 10-15 s) and at most MAX_AGE_MS (older ones would dilute what changed). */
const MIN_WINDOW_MS = 10_000;
const MAX_AGE_MS = 5 * 60_000;

const history = new Map<string, CpuCounters[]>();

/** Deployment names of ReplicaSets, "namespace/replicaset" → deployment. */
async function deploymentsOfReplicaSets(ctx: KubeContext, namespaces: string[]): Promise<Map<string, string>> {
  const lists = await Promise.all(namespaces.map((namespace) => ctx.kube.apps.listNamespacedReplicaSet({ namespace })));
  const out = new Map<string, string>();
  for (const rs of lists.flatMap((l) => l.items)) {
    const d = rs.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
    if (d) out.set(`${rs.metadata?.namespace}/${rs.metadata?.name}`, d.name);
  }
  return out;
}

/** The running containers that have a CPU limit (only they have a CFS quota), without their windows yet. */
export function limitedContainers(pods: V1Pod[], deployments: Map<string, string>): ContainerCpu[] {
  const out: ContainerCpu[] = [];
  for (const p of pods) {
    if (p.status?.phase !== 'Running' || !p.spec?.nodeName) continue;
    const namespace = p.metadata?.namespace ?? '';
    const ref = p.metadata?.ownerReferences?.find((o) => o.controller);
    const deployment = ref?.kind === 'ReplicaSet' ? deployments.get(`${namespace}/${ref.name}`) : undefined;
    const owner = deployment ? { kind: 'Deployment', name: deployment } : ref ? { kind: ref.kind, name: ref.name } : { kind: 'Pod', name: p.metadata?.name ?? '' };
    for (const c of p.spec.containers ?? []) {
      const limitMillis = cpuMillis(c.resources?.limits?.cpu);
      if (!limitMillis) continue;
      const requestMillis = cpuMillis(c.resources?.requests?.cpu);
      out.push({
        namespace,
        pod: p.metadata?.name ?? '',
        container: c.name,
        node: p.spec.nodeName,
        owner,
        qosClass: p.status?.qosClass ?? 'unknown',
        limitMillis,
        ...(requestMillis !== undefined ? { requestMillis } : {}),
      });
    }
  }
  return out;
}

/** The newest earlier reading of a container old enough to start a window, and this one kept for later. */
function windowStart(historyKey: string, now: CpuCounters): CpuCounters | undefined {
  const past = (history.get(historyKey) ?? []).filter((c) => now.at - c.at <= MAX_AGE_MS && c.startedAt === now.startedAt);
  const start = [...past].reverse().find((c) => now.at - c.at >= MIN_WINDOW_MS);
  if (!past.some((c) => c.at === now.at)) past.push(now);
  history.set(historyKey, past);
  return start;
}

/** The running containers with a CPU limit (those `keep` accepts) and each one's cAdvisor reading, where its
 *  node's cAdvisor answered; unreadable names the nodes that did not. */
export async function readLimitedContainers(ctx: KubeContext, keep: (c: ContainerCpu) => boolean = () => true): Promise<{ containers: ContainerCpu[]; counters: Map<string, CpuCounters>; unreadable: string[] }> {
  const pods = await scopedPods(ctx);
  const namespaces = [...new Set(pods.map((p) => p.metadata?.namespace ?? ''))];
  const containers = limitedContainers(pods, await deploymentsOfReplicaSets(ctx, namespaces)).filter(keep);
  const nodes = [...new Set(containers.map((c) => c.node))];
  const unreadable: string[] = [];
  const reads = await Promise.all(
    nodes.map((node) =>
      scrapeNodeCpu(ctx.kube.kc, node).catch((err: Error) => {
        unreadable.push(`${node}: ${err.message}`);
        return new Map<string, CpuCounters>();
      }),
    ),
  );
  if (nodes.length && unreadable.length === nodes.length) throw new Error(`cannot read cAdvisor on any node (${unreadable.join('; ')})`);
  return { containers, counters: new Map(reads.flatMap((m) => [...m])), unreadable };
}

export async function collectCpuThrottling(ctx: KubeContext): Promise<CpuThrottlingSnapshot> {
  const { containers, counters, unreadable } = await readLimitedContainers(ctx);
  const server = ctx.kube.kc.getCurrentCluster()?.server ?? '';
  for (const c of containers) {
    const now = counters.get(key(c));
    if (!now) continue;
    c.window = windowBetween(windowStart(`${server} ${key(c)}`, now), now);
    c.periodMicros = now.periodMicros;
  }
  return { containers, unreadable };
}

export const cpuThrottlingDetector: Detector<CpuThrottlingSnapshot> = {
  id: 'cpu-throttling',
  description: "containers the CFS quota of their CPU limit throttles (kubelet cAdvisor counters), with their average use against the limit and QoS class",
  collect: collectCpuThrottling,
  analyze: analyzeCpuThrottling,
};
