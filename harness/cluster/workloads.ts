// Workload readiness the way `kubectl rollout status` judges it, and a wait for a rollout to finish: used by the
// deployer and by the faults and runbooks that change a workload's pod template.
import { z } from 'zod';
import type { RunContext } from './context.js';
import { jsonPatch, selectorQuery, type JsonPatchOp } from './kube.js';
import { waitUntil } from '../core/poll.js';

export interface ReadyState {
  ready: boolean;
  detail: string;
}

/** Readiness of one workload from its status, following kubectl rollout status' rules. */
export function readiness(obj: Record<string, any>): ReadyState {
  const kind = obj.kind as string;
  const st = obj.status ?? {};
  const want = obj.spec?.replicas ?? 1;
  const fresh = (st.observedGeneration ?? 0) >= (obj.metadata?.generation ?? 0);
  switch (kind) {
    case 'Deployment': {
      // an old ReplicaSet's replicas still counted (kubectl: "old replicas are pending termination") is not done
      const ok = fresh && (st.updatedReplicas ?? 0) >= want && (st.replicas ?? 0) <= (st.updatedReplicas ?? 0) && (st.availableReplicas ?? 0) >= want && (st.readyReplicas ?? 0) >= want;
      return { ready: ok, detail: `ready ${st.readyReplicas ?? 0}/${want}` };
    }
    case 'StatefulSet': {
      const ok = fresh && (st.readyReplicas ?? 0) >= want && (st.updatedReplicas ?? want) >= want;
      return { ready: ok, detail: `ready ${st.readyReplicas ?? 0}/${want}` };
    }
    case 'DaemonSet': {
      const desired = st.desiredNumberScheduled ?? 0;
      return { ready: fresh && desired > 0 && (st.numberReady ?? 0) >= desired, detail: `ready ${st.numberReady ?? 0}/${desired}` };
    }
    case 'Pod': {
      const ok = (st.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
      return { ready: ok, detail: st.phase ?? 'Pending' };
    }
    case 'Job':
      return { ready: (st.succeeded ?? 0) >= 1, detail: `succeeded ${st.succeeded ?? 0}` };
    default:
      return { ready: false, detail: `unsupported kind ${kind}` };
  }
}

export const API_VERSION: Record<string, string> = { Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Pod: 'v1', Job: 'batch/v1' };

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** A workload that owns a pod template, as scenario params name it. */
export const WorkloadRef = z.object({ kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']), name: z.string().min(1) }).strict();

/** A CPU quantity as a pod spec writes it: cores ("1", "1.5") or millicores ("200m"). */
export const CpuQuantity = z.string().regex(/^(\d+(\.\d+)?|\.\d+)m?$/, 'a CPU quantity such as 200m or 1');

/** Reads a workload through the generic object API (any of the three kinds). */
export async function readWorkload(ctx: RunContext, kind: WorkloadKind, namespace: string, name: string): Promise<Record<string, any>> {
  return (await ctx.kube.objects.read({ apiVersion: 'apps/v1', kind, metadata: { name, namespace } })) as Record<string, any>;
}

/** Pods of the workload's selector that are still terminating (an old template's, during a rollout). */
async function terminating(ctx: RunContext, w: Record<string, any>): Promise<number> {
  const pods = await ctx.kube.core.listNamespacedPod({ namespace: w.metadata?.namespace, labelSelector: selectorQuery(w.spec?.selector) });
  return pods.items.filter((p) => p.metadata?.deletionTimestamp).length;
}

/** Waits until a workload's controller has rolled out its current template, every replica is ready and no pod of
 *  the old template is left terminating (it may still hold clients' connections). */
export async function waitRolledOut(ctx: RunContext, kind: WorkloadKind, namespace: string, name: string, withinMs: number): Promise<void> {
  let last = 'not read yet';
  await waitUntil(
    async () => {
      const w = await readWorkload(ctx, kind, namespace, name);
      const r = readiness(w);
      const gone = r.ready ? await terminating(ctx, w) : 0;
      last = gone ? `${r.detail}, ${gone} old pod(s) terminating` : r.detail;
      return r.ready && gone === 0;
    },
    { withinMs, intervalMs: 1_000, what: `${kind} ${namespace}/${name} not rolled out`, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (${last})`);
  });
}

/** A container's resources as the API holds them ({limits: {cpu: "200m"}, requests: {...}}). */
export type ContainerResources = Record<string, Record<string, string> | undefined>;

/** Sets the resources of the container at `index` of a workload's pod template (`to` undefined: none), guarded
 *  by a test of its name, so a list that moved under us fails the patch rather than change another container. */
export async function setContainerResources(ctx: RunContext, w: { kind: WorkloadKind; namespace: string; name: string; container: string }, index: number, to: ContainerResources | undefined): Promise<void> {
  const base = `/spec/template/spec/containers/${index}`;
  const ops: JsonPatchOp[] = [{ op: 'test', path: `${base}/name`, value: w.container }, to ? { op: 'add', path: `${base}/resources`, value: to } : { op: 'remove', path: `${base}/resources` }];
  const req = { name: w.name, namespace: w.namespace, body: ops };
  if (w.kind === 'Deployment') await ctx.kube.apps.patchNamespacedDeployment(req, jsonPatch);
  else if (w.kind === 'StatefulSet') await ctx.kube.apps.patchNamespacedStatefulSet(req, jsonPatch);
  else await ctx.kube.apps.patchNamespacedDaemonSet(req, jsonPatch);
}

/** The index and resources of a container in a workload's pod template (throws when it has no such container). */
export function templateContainer(w: Record<string, any>, container: string): { index: number; resources?: ContainerResources } {
  const list = (w.spec?.template?.spec?.containers ?? []) as Array<{ name: string; resources?: ContainerResources }>;
  const index = list.findIndex((c) => c.name === container);
  if (index < 0) throw new Error(`container ${container} not found in ${w.kind} ${w.metadata?.namespace}/${w.metadata?.name}`);
  const r = list[index]!.resources;
  return { index, ...(r && Object.keys(r).length ? { resources: JSON.parse(JSON.stringify(r)) as ContainerResources } : {}) };
}
