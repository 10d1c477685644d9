// The cluster's own components: the pods of kube-system and of the namespaces named kube-* (the CNI's
// kube-flannel). A component still starting is a cluster still moving: workloads applied then can meet a node
// without its pod network, and a baseline captured then differs from the next look.
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from './kube.js';

/** Ready, or a Job's pod that has finished. */
export function podReady(p: V1Pod): boolean {
  return p.status?.phase === 'Succeeded' || (p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready));
}

export function isComponentNamespace(namespace: string): boolean {
  return namespace === 'kube-system' || namespace.startsWith('kube-');
}

/** One line per pod not Ready in the given namespaces. */
export async function podsNotReady(kube: KubeClients, namespaces: string[]): Promise<string[]> {
  const lists = await Promise.all(namespaces.map((namespace) => kube.core.listNamespacedPod({ namespace })));
  return lists.flatMap((l) => l.items.filter((p) => !podReady(p)).map(notReadyLine));
}

export function notReadyLine(p: V1Pod): string {
  return `${p.metadata?.namespace} pod ${p.metadata?.name} is not ready (${p.status?.phase ?? 'no phase'})`;
}

/** The pods not Ready, in a few words each ("mirror-5f58 on node-a: Pending, ContainerCreating"), at most `max`;
 *  reasons only, never a container's message (which can quote its environment). */
export function podsNotReadyBrief(pods: V1Pod[], max = 4): string {
  const lines = pods.filter((p) => !podReady(p)).map((p) => {
    const reasons = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
      .map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason)
      .filter((r): r is string => !!r);
    const where = p.spec?.nodeName ? ` on ${p.spec.nodeName}` : ' (unscheduled)';
    return `${p.metadata?.name}${where}: ${[p.status?.phase ?? 'no phase', ...new Set(reasons)].join(', ')}`;
  });
  if (lines.length === 0) return `all ${pods.length} pod(s) ready`;
  return lines.slice(0, max).join('; ') + (lines.length > max ? `; ${lines.length - max} more not ready` : '');
}
