// Why a namespace is still terminating, in one phrase for the progress line: the namespace controller's own
// conditions when it reports any, else whether the controller can run at all (on kubeadm and kind it lives in
// the kube-controller-manager static pod, which a control-plane fault's restarts can leave in back-off).
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { RunContext } from '../cluster/context.js';

export function namespaceConditions(ns: V1Namespace): string | undefined {
  const parts = (ns.status?.conditions ?? [])
    .filter((c) => c.status === 'True')
    .map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`.trim());
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** Describes a kube-controller-manager pod that is not ready ("in CrashLoopBackOff, 7 restarts"); undefined
 *  when it is ready or not run as a pod here. */
export function controllerManagerState(pods: V1Pod[]): string | undefined {
  const pod = pods[0];
  if (!pod) return undefined;
  const st = pod.status?.containerStatuses?.[0];
  if (st?.ready) return undefined;
  const waiting = st?.state?.waiting?.reason;
  const how = waiting ? `in ${waiting}` : st?.state?.running ? 'running, not ready' : 'not running';
  return `kube-controller-manager (which deletes a namespace's contents) is ${how}, ${st?.restartCount ?? 0} restart(s)`;
}

export async function whyTerminating(ctx: RunContext, ns: V1Namespace): Promise<string | undefined> {
  const conditions = namespaceConditions(ns);
  if (conditions) return conditions;
  try {
    const pods = await ctx.kube.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'component=kube-controller-manager' });
    return controllerManagerState(pods.items);
  } catch {
    return undefined; // an explanation only; the wait itself reports API errors
  }
}
