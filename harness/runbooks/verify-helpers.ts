import { checkReachable, isNotFound } from '../cluster/kube.js';
import type { RunContext } from '../cluster/context.js';

export async function podReady(ctx: RunContext, namespace: string, name: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const pod = await ctx.kube.core.readNamespacedPod({ name, namespace });
    const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const phase = pod.status?.phase ?? 'Unknown';
    return { ok: phase === 'Running' && ready, detail: `pod ${namespace}/${name}: ${phase}, ready ${ready}` };
  } catch (err) {
    if (isNotFound(err)) return { ok: false, detail: `pod ${namespace}/${name}: absent` };
    throw err;
  }
}

export async function dependantsReady(
  ctx: RunContext,
  namespace: string,
  deps: Array<{ kind: 'Deployment' | 'StatefulSet'; name: string }>,
): Promise<{ ok: boolean; details: string[] }> {
  const details: string[] = [];
  let ok = true;
  for (const d of deps) {
    const obj =
      d.kind === 'Deployment'
        ? await ctx.kube.apps.readNamespacedDeployment({ name: d.name, namespace })
        : await ctx.kube.apps.readNamespacedStatefulSet({ name: d.name, namespace });
    const want = obj.spec?.replicas ?? 1;
    const ready = obj.status?.readyReplicas ?? 0;
    if (ready < want) ok = false;
    details.push(`${d.kind} ${namespace}/${d.name}: ready ${ready}/${want}`);
  }
  return { ok, details };
}

/** Does the API server answer through the run's kubeconfig? One line of detail either way. */
export async function apiAnswers(ctx: RunContext): Promise<{ ok: boolean; detail: string }> {
  try {
    await checkReachable(ctx.kube.kc, 5_000);
    return { ok: true, detail: 'API server answers through the kubeconfig' };
  } catch (err) {
    return { ok: false, detail: `API server: ${(err as Error).message}` };
  }
}
