// Runbook for a StatefulSet whose env var has both `value` and `valueFrom` (Harbor's PostgreSQL). The incident
// deleted the StatefulSet and hoped the PVC survived; patching the template keeps the StatefulSet and its claims
// untouched, so no data is put at risk.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { collectWorkloads, statefulSetInfo, type WorkloadSnapshot } from '../detectors/snapshot.js';
import { fieldPath, findEnvConflicts } from '../detectors/statefulset-env-conflict.js';
import type { Finding } from '../detectors/types.js';
import { hasConflict, envAt, locate } from '../faults/statefulset-env-conflict.js';
import { isNotFound, jsonPatch, type JsonPatchOp } from '../cluster/kube.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';
import { dependantsReady, podReady } from './verify-helpers.js';

export const VerifyParams = z.object({
  namespace: z.string().min(1),
  statefulset: z.string().min(1),
  /** workloads that must be Ready again, e.g. [{kind: Deployment, name: core}] */
  dependants: z.array(z.object({ kind: z.enum(['Deployment', 'StatefulSet']), name: z.string() }).strict()).default([]),
}).strict();

/** Pure: the diagnosis for one finding, from a snapshot of its namespace. */
export function diagnoseFromSnapshot(snapshot: WorkloadSnapshot, finding: Finding): Diagnosis {
  const target = parseResource(finding.resources[0] ?? '');
  const conflicts = findEnvConflicts(snapshot).filter((c) => c.sts.namespace === target.namespace && c.sts.name === target.name);
  if (conflicts.length === 0) {
    return {
      runbook: 'statefulset-env-conflict',
      summary: `StatefulSet ${target.namespace}/${target.name} no longer has an env var with both value and valueFrom`,
      details: [],
      data: { namespace: target.namespace, statefulset: target.name, conflicts: [] },
    };
  }
  const details = conflicts.flatMap((c) => [
    `${fieldPath(c)}: name ${c.env}, container ${c.container}`,
    `  sets both value (a literal, not shown) and valueFrom (${c.valueFrom})`,
    `  fix: keep valueFrom, remove value`,
  ]);
  const first = conflicts[0]!;
  return {
    runbook: 'statefulset-env-conflict',
    summary: `${fieldPath(first)} (${first.env}) of StatefulSet ${target.namespace}/${target.name} sets both value and valueFrom; keep valueFrom (${first.valueFrom}), drop value`,
    details,
    data: {
      namespace: target.namespace,
      statefulset: target.name,
      conflicts: conflicts.map((c) => ({ container: c.container, env: c.env, path: fieldPath(c) })),
    },
  };
}

interface ConflictRef {
  container: string;
  env: string;
  path: string;
}

const BAD_PHASES = new Set(['Pending', 'Failed', 'Unknown']);

export const statefulsetEnvConflictRunbook: Runbook = {
  id: 'statefulset-env-conflict',
  scope: 'namespace',
  title: 'StatefulSet env var sets both value and valueFrom',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding) {
    const ns = parseResource(finding.resources[0] ?? '').namespace;
    return diagnoseFromSnapshot(await collectWorkloads({ ...ctx, namespaces: [ns] }), finding);
  },

  async remediate(ctx: RunContext, diagnosis) {
    const namespace = String(diagnosis.data.namespace);
    const name = String(diagnosis.data.statefulset);
    const actions: string[] = [];
    for (const c of (diagnosis.data.conflicts ?? []) as ConflictRef[]) {
      // indices are looked up again: the template may have changed since the diagnosis
      const sts = await ctx.kube.apps.readNamespacedStatefulSet({ name, namespace });
      const at = locate(sts, c.container, c.env);
      const { ei } = at;
      if (ei < 0 || !hasConflict(envAt(sts, at))) {
        actions.push(`${c.env}: no conflict any more, nothing to do`);
        continue;
      }
      const base = `/spec/template/spec/${at.list}/${at.ci}`;
      const ops: JsonPatchOp[] = [
        { op: 'test', path: `${base}/name`, value: c.container },
        { op: 'test', path: `${base}/env/${ei}/name`, value: c.env },
        { op: 'remove', path: `${base}/env/${ei}/value` },
      ];
      await ctx.kube.apps.patchNamespacedStatefulSet({ name, namespace, body: ops }, jsonPatch);
      actions.push(`patched StatefulSet ${namespace}/${name}: removed value of ${c.env}, kept valueFrom`);
    }
    try {
      const pod = await ctx.kube.core.readNamespacedPod({ name: `${name}-0`, namespace });
      const waiting = pod.status?.containerStatuses?.some((s) => s.state?.waiting?.reason === 'CrashLoopBackOff');
      if (BAD_PHASES.has(pod.status?.phase ?? 'Unknown') || waiting) {
        await ctx.kube.core.deleteNamespacedPod({ name: `${name}-0`, namespace });
        actions.push(`deleted pod ${namespace}/${name}-0 (${pod.status?.phase}) so it is recreated from the fixed template`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      actions.push(`pod ${namespace}/${name}-0 absent; the controller recreates it from the fixed template`);
    }
    ctx.log(actions.join('; '));
    return { mode: 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const details: string[] = [];
    const sts = await ctx.kube.apps.readNamespacedStatefulSet({ name: p.statefulset, namespace: p.namespace });
    const want = sts.spec?.replicas ?? 1;
    const ready = sts.status?.readyReplicas ?? 0;
    const stsOk = ready === want;
    details.push(`StatefulSet ${p.namespace}/${p.statefulset}: ready ${ready}/${want}`);
    const pod0 = await podReady(ctx, p.namespace, `${p.statefulset}-0`);
    details.push(pod0.detail);
    const snapshot = { takenAt: new Date().toISOString(), statefulSets: [statefulSetInfo(sts)], pods: [], events: [] };
    const conflictGone = findEnvConflicts(snapshot).length === 0;
    details.push(conflictGone ? 'template: no env var sets both value and valueFrom' : 'template: conflict still present');
    const deps = await dependantsReady(ctx, p.namespace, p.dependants);
    details.push(...deps.details);
    return { ok: stsOk && pod0.ok && conflictGone && deps.ok, details };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: StatefulSet env var sets both value and valueFrom

**Signature.** \`kubectl describe statefulset\` shows
\`Warning FailedCreate ... statefulset-controller create Pod <name>-0 ... failed error: Pod "<name>-0" is invalid:
spec.containers[N].env[M].valueFrom: Invalid value: "": may not be specified when \`value\` is not empty\`.
Pod \`<name>-0\` does not exist; anything that talks to it (for Harbor: harbor-core) is in CrashLoopBackOff.
The standard alert (KubeStatefulSetReplicasMismatch) fires only after 15 minutes.

**Why.** Older API servers validated a StatefulSet's pod template less strictly than a Pod: a chart that
rendered an env var with both a literal \`value\` and \`valueFrom.secretKeyRef\` was accepted, and every Pod the
controller then creates from it is rejected. Newer API servers refuse such a template on create and update, but
tolerate one that is already stored, so a cluster upgraded with it still has it. Existing pods keep running until
they are deleted or rescheduled, so the problem appears later (an upgrade, a node reboot).

**Diagnose.** \`faultline doctor\` names the field (for example
\`spec.template.spec.containers[0].env[4]\`, \`POSTGRES_PASSWORD\`) and the Secret it refers to. Values are never
printed.

**Remediate (automatic).** Keep \`valueFrom\` (the Secret, as the fixed chart does) and remove \`value\` with a
JSON patch of the StatefulSet. Then, if pod \`-0\` exists in a bad state (Pending, Failed, CrashLoopBackOff),
delete it so the controller recreates it from the fixed template. The StatefulSet is never deleted, so its
PersistentVolumeClaims are never at risk (the incident deleted the StatefulSet and hoped the data survived).
Fix the chart or values as well, or the next upgrade brings the conflict back.

**Verify.** readyReplicas equals replicas; pod \`-0\` is Running and Ready; the dependants are Ready again; the
marker row written before the fault is still in the database.
`;
