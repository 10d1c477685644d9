// Harbor's PostgreSQL after an aborted Talos upgrade: a StatefulSet pod template whose env var has both `value`
// and `valueFrom`. The incident's API server accepted it on the StatefulSet (its template was not validated as a
// Pod); the statefulset-controller's pod create is then rejected with FailedCreate "... may not be specified
// when `value` is not empty".
// Newer API servers validate the template on create and update, unless the stored object is already invalid
// (ValidateStatefulSetUpdate tolerates a template persisted before that validation). Where the API refuses,
// the fault writes the StatefulSet into etcd as such an older API server stored it, so the real controller
// meets the same persisted template the incident's cluster had.
import type { V1EnvVar, V1StatefulSet } from '@kubernetes/client-node';
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { etcdctl, storageKey } from '../cluster/etcdctl.js';
import { sameJson } from '../core/json.js';
import { isNotFound, jsonPatch, unlessNotFound, type JsonPatchOp } from '../cluster/kube.js';
import type { Fault } from './types.js';

export const StsEnvConflictParams = z
  .object({
    namespace: z.string().min(1),
    statefulset: z.string().min(1),
    container: z.string().min(1),
    env: z.string().min(1),
    secretName: z.string().min(1),
    secretKey: z.string().min(1),
  })
  .strict();
export type StsEnvConflictParams = z.infer<typeof StsEnvConflictParams>;

/** Names and positions only: the env var's literal value is the incident's password, and a journal must never
 *  hold it. Revert removes the valueFrom the fault added, guarded by test ops on these names and positions. */
export interface StsEnvConflictRecord {
  namespace: string;
  statefulset: string;
  container: string;
  env: string;
  secretName: string;
  secretKey: string;
  /** the container list, the container's index in it, and the env var's index in its env list */
  list?: ContainerList;
  containerIndex: number;
  envIndex: number;
}

/** The pod template's container lists a container may be in (an env var can conflict in any of them). */
export type ContainerList = 'containers' | 'initContainers';
const LISTS: ContainerList[] = ['containers', 'initContainers'];

/** Where a container's env var is: the list, the container's index in it and the env var's (-1 when absent). */
export function locate(sts: V1StatefulSet, container: string, env: string): { list: ContainerList; ci: number; ei: number } {
  const spec = sts.spec?.template?.spec;
  for (const list of LISTS) {
    const ci = (spec?.[list] ?? []).findIndex((c) => c.name === container);
    if (ci >= 0) return { list, ci, ei: (spec![list]![ci]!.env ?? []).findIndex((e) => e.name === env) };
  }
  throw new Error(`container ${container} not found in StatefulSet ${sts.metadata?.name}`);
}

/** The env var a location names. */
export function envAt(sts: V1StatefulSet, at: { list: ContainerList; ci: number; ei: number }): V1EnvVar | undefined {
  return sts.spec?.template?.spec?.[at.list]?.[at.ci]?.env?.[at.ei];
}

export function hasConflict(e: V1EnvVar | undefined): boolean {
  return !!e && e.value !== undefined && e.value !== '' && e.valueFrom !== undefined;
}

function readSts(ctx: RunContext, namespace: string, name: string): Promise<V1StatefulSet | undefined> {
  return unlessNotFound(ctx.kube.apps.readNamespacedStatefulSet({ name, namespace }));
}

async function deletePodIf(ctx: RunContext, namespace: string, name: string, when: (phase?: string) => boolean): Promise<boolean> {
  try {
    const pod = await ctx.kube.core.readNamespacedPod({ name, namespace });
    if (!when(pod.status?.phase)) return false;
    await ctx.kube.core.deleteNamespacedPod({ name, namespace });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The API's own rejection of the conflict (newer API servers validate StatefulSet pod templates). */
export function rejectedAsConflict(err: unknown): boolean {
  const e = err as { code?: number; body?: unknown };
  return e?.code === 422 && /may not be specified when `value` is not empty/.test(String(e.body ?? ''));
}

/** The StatefulSet with the conflicting env var, as JSON for storage (server-set resourceVersion dropped,
 *  generation bumped as an API server does for a spec change). */
export function persistedWithConflict(sts: V1StatefulSet, at: { list: ContainerList; ci: number; ei: number }, p: StsEnvConflictParams): Record<string, unknown> {
  const obj = JSON.parse(JSON.stringify(sts)) as V1StatefulSet;
  obj.apiVersion = 'apps/v1';
  obj.kind = 'StatefulSet';
  delete obj.metadata!.resourceVersion;
  obj.metadata!.generation = (obj.metadata!.generation ?? 1) + 1;
  obj.spec!.template.spec![at.list]![at.ci]!.env![at.ei]!.valueFrom = { secretKeyRef: { name: p.secretName, key: p.secretKey } };
  return obj as unknown as Record<string, unknown>;
}

async function writeAsPersisted(ctx: RunContext, sts: V1StatefulSet, at: { list: ContainerList; ci: number; ei: number }, p: StsEnvConflictParams): Promise<void> {
  const body = JSON.stringify(persistedWithConflict(sts, at, p));
  const res = await etcdctl(ctx.kube, ['put', storageKey('statefulsets', p.namespace, p.statefulset)], { input: body });
  if (res.exitCode !== 0) throw new Error(`etcdctl put of ${p.namespace}/${p.statefulset} failed: ${res.stderr.trim() || res.stdout.trim()}`);
}

export const statefulsetEnvConflict: Fault<StsEnvConflictParams, StsEnvConflictRecord> = {
  type: 'statefulset-env-conflict',
  scope: 'namespace',
  description: 'give a StatefulSet env var both value and valueFrom.secretKeyRef, then delete pod -0 so the controller must recreate it',
  paramsSchema: StsEnvConflictParams,

  async plan(ctx, p) {
    const sts = await readSts(ctx, p.namespace, p.statefulset);
    if (!sts) throw new Error(`StatefulSet ${p.namespace}/${p.statefulset} not found`);
    const at = locate(sts, p.container, p.env);
    const { list, ci, ei } = at;
    const env = sts.spec!.template.spec![list]![ci]!.env ?? [];
    if (ei < 0 || env[ei]!.value === undefined) {
      throw new Error(`env ${p.env} in container ${p.container} has no literal value; this fault needs one to conflict with`);
    }
    if (env[ei]!.valueFrom !== undefined) throw new Error(`env ${p.env} in container ${p.container} already has a valueFrom`);
    return { ...p, list, containerIndex: ci, envIndex: ei };
  },

  async apply(ctx, p, _record) {
    const sts = await readSts(ctx, p.namespace, p.statefulset);
    if (!sts) throw new Error(`StatefulSet ${p.namespace}/${p.statefulset} not found`);
    const at = locate(sts, p.container, p.env);
    const { ei } = at;
    const current = envAt(sts, at);
    if (!hasConflict(current)) {
      const base = `/spec/template/spec/${at.list}/${at.ci}`;
      const ops: JsonPatchOp[] = [
        // test ops make the patch fail rather than hit the wrong container if the list moved under us
        { op: 'test', path: `${base}/name`, value: p.container },
        { op: 'test', path: `${base}/env/${ei}/name`, value: p.env },
        { op: 'add', path: `${base}/env/${ei}/valueFrom`, value: { secretKeyRef: { name: p.secretName, key: p.secretKey } } },
      ];
      try {
        await ctx.kube.apps.patchNamespacedStatefulSet({ name: p.statefulset, namespace: p.namespace, body: ops }, jsonPatch);
        ctx.log(`patched ${p.namespace}/${p.statefulset} through the API: env ${p.env} now has both value and valueFrom`);
      } catch (err) {
        if (!rejectedAsConflict(err)) throw err;
        await writeAsPersisted(ctx, sts, at, p);
        ctx.log(
          `the API server validates StatefulSet templates, so ${p.namespace}/${p.statefulset} was written to etcd as an ` +
            `older API server stored it: env ${p.env} now has both value and valueFrom`,
        );
      }
    }
    // the controller must now create pod -0 from the broken template
    const deleted = await deletePodIf(ctx, p.namespace, `${p.statefulset}-0`, () => true);
    if (deleted) ctx.log(`deleted pod ${p.namespace}/${p.statefulset}-0`);
  },

  async revert(ctx, r) {
    const sts = await readSts(ctx, r.namespace, r.statefulset);
    if (!sts) {
      ctx.log(`StatefulSet ${r.namespace}/${r.statefulset} is gone; nothing to revert`);
      return;
    }
    // found by name: the positions in the record are where they were, and the lists may have moved since
    const at = locate(sts, r.container, r.env);
    const { ei } = at;
    const env = envAt(sts, at);
    const added = { secretKeyRef: { name: r.secretName, key: r.secretKey } };
    if (hasConflict(env) && sameJson(env!.valueFrom, added)) {
      const base = `/spec/template/spec/${at.list}/${at.ci}`;
      // the guards make the patch fail rather than touch another container or env var if the lists move
      // between this read and the patch
      const ops: JsonPatchOp[] = [
        { op: 'test', path: `${base}/name`, value: r.container },
        { op: 'test', path: `${base}/env/${ei}/name`, value: r.env },
        { op: 'test', path: `${base}/env/${ei}/valueFrom`, value: added },
        { op: 'remove', path: `${base}/env/${ei}/valueFrom` },
      ];
      await ctx.kube.apps.patchNamespacedStatefulSet({ name: r.statefulset, namespace: r.namespace, body: ops }, jsonPatch);
      ctx.log(`removed the valueFrom the fault added to ${r.env} of ${r.container} in ${r.namespace}/${r.statefulset}`);
    } else if (env?.name === r.env && env.valueFrom === undefined) {
      ctx.log(`env ${r.env} of ${r.container} in ${r.namespace}/${r.statefulset} already as captured`);
    } else {
      // a runbook (or a person) already removed the conflict differently: keep their fix rather than undo it
      ctx.log(`env ${r.env} of ${r.namespace}/${r.statefulset} no longer conflicts; leaving the remediated template`);
    }
    const deleted = await deletePodIf(ctx, r.namespace, `${r.statefulset}-0`, (phase) => phase !== 'Running');
    if (deleted) ctx.log(`deleted stuck pod ${r.namespace}/${r.statefulset}-0 so the controller recreates it`);
  },

  describe(r) {
    return `StatefulSet ${r.namespace}/${r.statefulset}: the valueFrom added to env ${r.env} of container ${r.container} removed, and pod ${r.statefulset}-0 deleted if it is not Running`;
  },
};
