// The alerting stack as a set-up: journaled before anything exists, deployed (images loaded into the nodes, then
// the objects of manifests.ts), ready once Prometheus has scraped etcd and loaded its rules; reverted on every exit
// path and by `faultline recover`, its cluster-scoped RBAC included. Only objects labelled as faultline's are
// deleted.
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { z } from 'zod';
import { apiRawGet } from '../cluster/api-raw.js';
import type { RunContext } from '../cluster/context.js';
import { isNotFound } from '../cluster/kube.js';
import { controlPlaneNodes } from '../cluster/node-access.js';
import { isManaged } from '../core/labels.js';
import { sleep } from '../core/poll.js';
import type { Fault } from '../faults/types.js';
import { victimNamespace } from '../faults/victim-namespace.js';
import { prometheusApi, stackNames, stackObjects, type StackNames } from './manifests.js';

export const PROMETHEUS_IMAGE = 'faultline/prometheus:v0.316.0';
export const ALERTMANAGER_IMAGE = 'faultline/alertmanager:v0.35.0';

const Params = z.object({ rules: z.string().min(1) }).strict();
type Params = z.infer<typeof Params>;

export type AlertingStackRecord = StackNames;

const READY_WITHIN_MS = 180_000;

/** Prometheus answers, has scraped etcd at least once, and has loaded every rule group. */
async function stackReady(ctx: RunContext): Promise<string | undefined> {
  try {
    const targets = JSON.parse(await apiRawGet(ctx.kube.kc, prometheusApi('/api/v1/targets?state=active'), 5_000)) as { data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError?: string }> } };
    const etcd = targets.data.activeTargets.find((t) => t.labels.job === 'etcd');
    if (!etcd || etcd.health !== 'up') return `Prometheus has not scraped etcd yet${etcd?.lastError ? ` (${etcd.lastError})` : ''}`;
    const rules = JSON.parse(await apiRawGet(ctx.kube.kc, prometheusApi('/api/v1/rules?type=alert'), 5_000)) as { data: { groups: unknown[] } };
    if (rules.data.groups.length === 0) return 'Prometheus has loaded no rule group yet';
    return undefined;
  } catch (err) {
    return `Prometheus does not answer yet (${(err as Error).message.split('\n')[0]})`;
  }
}

async function deleteOurs(ctx: RunContext, obj: Record<string, any>): Promise<void> {
  const ref = { apiVersion: obj.apiVersion as string, kind: obj.kind as string, metadata: { name: obj.metadata.name as string, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace as string } : {}) } };
  try {
    const live = (await ctx.kube.objects.read(ref)) as KubernetesObject;
    if (!isManaged(live)) {
      ctx.log(`${obj.kind} ${obj.metadata.name} is not labelled as faultline's; left in place`);
      return;
    }
    if (!live.metadata?.deletionTimestamp) await ctx.kube.objects.delete(ref);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export const alertingStack: Fault<Params, AlertingStackRecord> = {
  type: 'alerting-stack',
  description: 'Prometheus and Alertmanager (forged) in a namespace of their own, scraping etcd, the API server, the kubelets and the control plane, with the run\'s rules',
  paramsSchema: Params,

  async plan(ctx) {
    return stackNames(ctx.runId);
  },

  async apply(ctx, p, r) {
    const [node] = await controlPlaneNodes({ provider: ctx.provider, cluster: ctx.cluster });
    if (!node) throw new Error('no control-plane node to run Prometheus on');
    const { skipped } = await ctx.provider.loadImages(ctx.cluster, [PROMETHEUS_IMAGE, ALERTMANAGER_IMAGE]);
    if (skipped.length) throw new Error(`${skipped.join(', ')} not in the local Docker; run make forge (FAULTLINE_FORGE=always builds them where stock images can be pulled)`);
    for (const obj of stackObjects(r, { node, rules: p.rules, prometheusImage: PROMETHEUS_IMAGE, alertmanagerImage: ALERTMANAGER_IMAGE })) {
      await ctx.kube.objects.patch(obj as KubernetesObject, undefined, undefined, 'faultline', true, PatchStrategy.ServerSideApply);
    }
    const until = Date.now() + READY_WITHIN_MS;
    for (;;) {
      const why = await stackReady(ctx);
      if (!why) return;
      if (Date.now() > until) throw new Error(`the alerting stack is not ready after ${READY_WITHIN_MS / 1000}s: ${why}`);
      ctx.log(`alerting stack: ${why}`);
      // Prometheus and Alertmanager become Ready in tens of seconds: a look every 2 s
      await sleep(2_000, ctx.signal);
    }
  },

  async revert(ctx, r) {
    // cluster-scoped first (they outlive the namespace), then the namespace and everything in it, the way a run's
    // victim namespace goes: only when labelled as faultline's and annotated with this run, waited for until gone
    const objs = stackObjects(r, { node: '', rules: '', prometheusImage: '', alertmanagerImage: '' });
    for (const obj of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'ClusterRole')) await deleteOurs(ctx, obj);
    await victimNamespace.revert(ctx, { namespace: r.namespace, runId: r.runId });
  },

  describe(r) {
    return `alerting stack of run ${r.runId}: namespace ${r.namespace}, ClusterRole and ClusterRoleBinding ${r.clusterRole}, deleted`;
  },
};
