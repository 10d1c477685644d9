import type { RunContext } from '../engine/context.js';
import { isNotFound } from '../cluster/kube.js';

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
