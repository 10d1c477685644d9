// Proves the cluster's own store kept its data: a ConfigMap keyed by the run id is written before the fault
// and read back after the runbook (for faults on etcd itself, the data that matters is etcd's).
import { z } from 'zod';
import { isNotFound } from '../cluster/kube.js';
import type { IntegrityCheck } from './types.js';

export const ConfigMapMarkerParams = z
  .object({
    namespace: z.string().min(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/).default('faultline-marker'),
  })
  .strict();
export type ConfigMapMarkerParams = z.infer<typeof ConfigMapMarkerParams>;

export const configmapMarker: IntegrityCheck<ConfigMapMarkerParams> = {
  id: 'configmap-marker',
  description: 'a ConfigMap holding the run id, written before the fault and read back after recovery',
  paramsSchema: ConfigMapMarkerParams,

  async write(ctx, p) {
    const body = { metadata: { name: p.name, namespace: p.namespace, labels: { 'app.kubernetes.io/managed-by': 'faultline' } }, data: { runId: ctx.runId } };
    try {
      await ctx.kube.core.replaceNamespacedConfigMap({ name: p.name, namespace: p.namespace, body });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await ctx.kube.core.createNamespacedConfigMap({ namespace: p.namespace, body });
    }
    const back = await ctx.kube.core.readNamespacedConfigMap({ name: p.name, namespace: p.namespace });
    const ok = back.data?.runId === ctx.runId;
    return { check: 'configmap-marker', phase: 'write', ok, details: `ConfigMap ${p.namespace}/${p.name} runId=${back.data?.runId ?? '(none)'}` };
  },

  async check(ctx, p) {
    try {
      const cm = await ctx.kube.core.readNamespacedConfigMap({ name: p.name, namespace: p.namespace });
      const ok = cm.data?.runId === ctx.runId;
      return { check: 'configmap-marker', phase: 'check', ok, details: `ConfigMap ${p.namespace}/${p.name} runId=${cm.data?.runId ?? '(none)'}${ok ? '' : ` (want ${ctx.runId})`}` };
    } catch (err) {
      if (isNotFound(err)) return { check: 'configmap-marker', phase: 'check', ok: false, details: `ConfigMap ${p.namespace}/${p.name} is gone` };
      throw err;
    }
  },
};
