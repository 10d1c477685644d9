// Set-up for victims that need cluster-scoped objects (a CustomResourceDefinition, a webhook configuration, the
// ClusterRole its backend writes it with): namespaced objects go with the victim's namespace, these do not, so
// they are journaled like a fault before they exist and deleted by revert and `faultline recover`. Only objects
// labelled as faultline's and annotated with the run that made them are ever deleted; an object of the same
// name that someone else owns is refused before anything changes.
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { z } from 'zod';
import { apiErrorMessage, isNotFound, unlessNotFound } from '../cluster/kube.js';
import type { RunContext } from '../cluster/context.js';
import { isManaged, MANAGED_BY } from '../core/labels.js';
import { sleep, waitUntil } from '../core/poll.js';
import type { Fault } from './types.js';
import { RUN_ID_ANNOTATION } from './victim-namespace.js';

/** The kinds this set-up makes: cluster-scoped ones (namespaced objects belong in the victim's manifests). */
export const CLUSTER_KINDS = [
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'PriorityClass',
] as const;

const ObjectSpec = z
  .object({
    apiVersion: z.string().min(1),
    kind: z.enum(CLUSTER_KINDS),
    metadata: z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9.:-]*$/), labels: z.record(z.string(), z.string()).optional() }).strict(),
  })
  // the object's own fields (spec, rules, webhooks...) are the API server's to validate, at apply
  .passthrough();

export const ClusterObjectsParams = z.object({ objects: z.array(ObjectSpec).min(1) }).strict();
export type ClusterObjectsParams = z.infer<typeof ClusterObjectsParams>;

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface ClusterObjectsRecord {
  objects: ObjectRef[];
  runId: string;
}

/** How long apply waits for a CRD to be served, and revert for an object (a CRD's instances go first) to be gone. */
const ESTABLISHED_WITHIN_MS = 60_000;
const GONE_WITHIN_MS = 120_000;

const refOf = (o: { apiVersion: string; kind: string; metadata: { name: string } }): ObjectRef => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name });
const shell = (r: ObjectRef): KubernetesObject & { metadata: { name: string } } => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.name } });
const named = (r: ObjectRef): string => `${r.kind} ${r.name}`;

function read(ctx: RunContext, r: ObjectRef): Promise<KubernetesObject | undefined> {
  return unlessNotFound(ctx.kube.objects.read(shell(r)));
}

async function untilEstablished(ctx: RunContext, r: ObjectRef): Promise<void> {
  await waitUntil(
    async () => {
      const crd = (await read(ctx, r)) as (KubernetesObject & { status?: { conditions?: Array<{ type: string; status: string }> } }) | undefined;
      return !!crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { withinMs: ESTABLISHED_WITHIN_MS, intervalMs: 1_000, what: `${named(r)} not established`, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  );
}

export const clusterObjects: Fault<ClusterObjectsParams, ClusterObjectsRecord> = {
  type: 'cluster-objects',
  description: "create the victim's cluster-scoped objects (CRDs, webhook configurations, cluster RBAC), labelled as faultline's and annotated with the run id",
  paramsSchema: ClusterObjectsParams,

  async plan(ctx, p) {
    const refs = p.objects.map(refOf);
    for (const r of refs) {
      const existing = await read(ctx, r);
      if (existing && !isManaged(existing)) throw new Error(`${named(r)} exists and is not managed by faultline; refusing to overwrite it`);
    }
    return { objects: refs, runId: ctx.runId };
  },

  async apply(ctx, p, r) {
    for (const o of p.objects) {
      const body = {
        ...o,
        metadata: { ...o.metadata, labels: { ...o.metadata.labels, [MANAGED_BY.key]: MANAGED_BY.value }, annotations: { [RUN_ID_ANNOTATION]: r.runId } },
      } as KubernetesObject;
      await ctx.kube.objects.patch(body, undefined, undefined, 'faultline', true, PatchStrategy.ServerSideApply);
      // the victim's manifests may hold instances of it, applied next
      if (o.kind === 'CustomResourceDefinition') await untilEstablished(ctx, refOf(o));
    }
  },

  async revert(ctx, r) {
    for (const ref of [...r.objects].reverse()) {
      const until = Date.now() + GONE_WITHIN_MS;
      for (;;) {
        let o: KubernetesObject | undefined;
        try {
          o = await read(ctx, ref);
          if (!o) break;
          if (!isManaged(o) || o.metadata?.annotations?.[RUN_ID_ANNOTATION] !== r.runId) {
            ctx.log(`${named(ref)} is not the one run ${r.runId} made; left in place`);
            break;
          }
          if (!o.metadata?.deletionTimestamp) await ctx.kube.objects.delete(shell(ref));
        } catch (err) {
          // the API server may be restarting after a control-plane revert: retried until the deadline
          if (isNotFound(err)) break;
          if (Date.now() > until) throw new Error(`${named(ref)}: ${apiErrorMessage(err)}`);
        }
        if (Date.now() > until) throw new Error(`${named(ref)} still there after ${GONE_WITHIN_MS / 1000}s`);
        // one GET a second: a deletion without finalizers shows within a second
        await sleep(1_000, ctx.signal);
      }
    }
  },

  describe(r) {
    return `${r.objects.map(named).join(', ')}, made by run ${r.runId}, deleted`;
  },
};
