// pod-create-refused: a controller's pods refused by the API (admission, an invalid template, a quota, a LimitRange,
// a missing service account). For PodSecurity enforced through the cluster-wide default (the namespace has no label
// of its own), the fix that needs no API server restart is the namespace's own label at the level its workloads were
// meant to run at; it is applied only when the scenario (or the caller) says which level that is. Everything else is
// a person's call, and the runbook says exactly what to change.
import { z } from 'zod';
import { PSA_ENFORCE, parseRefusal } from '../detectors/pod-create-analysis.js';
import type { Finding } from '../detectors/types.js';
import { mergePatch } from '../cluster/kube.js';
import { dependantsReady } from './verify-helpers.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z
  .object({
    namespace: z.string().min(1),
    /** the level the namespace was meant to enforce; with it, remediate labels the namespace */
    intendedLevel: z.enum(['privileged', 'baseline', 'restricted']).optional(),
    /** workloads that must have all their pods ready again */
    workloads: z.array(z.object({ kind: z.enum(['Deployment', 'StatefulSet']), name: z.string().min(1) }).strict()).default([]),
  })
  .strict();

const LEVEL = z.enum(['privileged', 'baseline', 'restricted']);

export const podCreateRefusedRunbook: Runbook = {
  id: 'pod-create-refused',
  title: "A controller's pods refused by the API (admission, an invalid template, a quota, a LimitRange, a service account)",
  verifyParams: VerifyParams,

  async diagnose(_ctx, finding: Finding): Promise<Diagnosis> {
    const target = parseResource(finding.resources[0] ?? '');
    const failed = finding.evidence.find((e) => e.includes('FailedCreate')) ?? '';
    const refusal = parseRefusal(failed);
    const enforcement = finding.evidence.find((e) => e.startsWith('enforcement: '))?.slice('enforcement: '.length);
    const viaDefault = !!enforcement && /cluster-wide default/.test(enforcement);
    return {
      runbook: 'pod-create-refused',
      summary: `${target.kind} ${target.namespace}/${target.name}: ${refusal?.by === 'pod-security' ? `PodSecurity "${refusal.level}"${viaDefault ? ' from the cluster-wide default' : ''}` : (refusal?.by ?? 'admission')} refuses its pods`,
      details: [...(enforcement ? [enforcement] : []), ...finding.evidence.filter((e) => e.startsWith('violation '))],
      data: { namespace: target.namespace, kind: target.kind, name: target.name, by: refusal?.by ?? 'unknown', viaDefault, change: finding.rootCause.split('; to change: ')[1] ?? finding.rootCause },
    };
  },

  async remediate(ctx, d, params) {
    const { namespace, by, viaDefault, change } = d.data as { namespace: string; by: string; viaDefault: boolean; change: string };
    const wanted = LEVEL.safeParse(params?.intendedLevel);
    // only the cluster default's PodSecurity level has a fix that changes nothing but the namespace; the rest
    // (a label of its own, a template, a quota, a policy) is a person's call, told precisely
    if (by !== 'pod-security' || !viaDefault || !wanted.success) return { mode: 'manual', actions: [change] };
    await ctx.kube.core.patchNamespace(
      { name: namespace, body: { metadata: { labels: { [PSA_ENFORCE]: wanted.data, [`${PSA_ENFORCE}-version`]: 'latest' } } } },
      mergePatch,
    );
    return { mode: 'automatic', actions: [`labelled namespace ${namespace} ${PSA_ENFORCE}=${wanted.data} (the level it was meant to enforce; the cluster-wide default no longer applies to it)`] };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const ns = await ctx.kube.core.readNamespace({ name: p.namespace });
    const label = ns.metadata?.labels?.[PSA_ENFORCE];
    const ready = await dependantsReady(ctx, p.namespace, p.workloads);
    const labelled = !p.intendedLevel || label === p.intendedLevel;
    return { ok: ready.ok && labelled, details: [`namespace ${p.namespace}: ${PSA_ENFORCE}=${label ?? '(none)'}`, ...ready.details] };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: a controller's pods refused by the API

**Signature.** A controller (ReplicaSet, StatefulSet, DaemonSet, Job) is short of pods and its events say
\`FailedCreate ... is forbidden: violates PodSecurity "restricted:latest": ...\`, or
\`ValidatingAdmissionPolicy '<name>' ... denied request\`, or \`admission webhook "<name>" denied the request\` /
\`failed calling webhook\`. Running pods are not touched: admission only sees new ones, so the refusal shows when
a pod is replaced (a rollout, a node drain, a crash).

**Diagnose.** For PodSecurity, find where the level comes from: the namespace's own label
(\`${PSA_ENFORCE}\`), or, when it has none, the API server's cluster-wide default
(\`--admission-control-config-file\`, plugin PodSecurity, \`defaults.enforce\`). The event names each violated
check and the field to set.

**Remediate.** Cluster default: label the namespace at the level it was meant to enforce
(\`kubectl label ns <ns> ${PSA_ENFORCE}=baseline\`); the default then no longer applies to it and no API server
restart is needed. faultline applies this only when told the intended level. Otherwise (a label of the
namespace's own, a policy, a webhook): change the pod template to meet it, or the policy; that is a person's call.

**Verify.** The namespace carries the intended label and the workloads have all their pods ready again.
`;
