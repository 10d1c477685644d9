// manual-change: for findings whose fix is a decision about the workload or the cluster (requests, tolerations, a
// missing Secret, a node's kubelet): the diagnosis is the finding's own cause and the field or setting to change;
// nothing is changed automatically. Verify: the detectors find nothing left in the namespace.
import { z } from 'zod';
import { builtinDetectors, scanAll } from '../detectors/registry.js';
import type { Runbook } from './types.js';

const VerifyParams = z.object({ namespace: z.string().min(1) }).strict();

export const manualChangeRunbook: Runbook = {
  id: 'manual-change',
  title: 'A change only a person should make: the field or setting, named',
  verifyParams: VerifyParams,

  async diagnose(_ctx, finding) {
    const [cause, change] = finding.rootCause.split('; to change: ');
    return { runbook: 'manual-change', summary: cause ?? finding.rootCause, details: change ? [`to change: ${change}`, ...finding.evidence] : finding.evidence, data: { change: change ?? finding.rootCause } };
  },

  async remediate(_ctx, d) {
    return { mode: 'manual', actions: [String(d.data.change)] };
  },

  async verify(ctx, raw) {
    const p = VerifyParams.parse(raw);
    const left = (await scanAll({ ...ctx, namespaces: [p.namespace] }, builtinDetectors())).filter((f) => f.resources.some((r) => r.startsWith(`${p.namespace}/`)));
    return { ok: left.length === 0, details: left.length ? left.map((f) => f.summary) : [`nothing left in ${p.namespace}`] };
  },

  markdown() {
    return `# Runbook: a change only a person should make

**Signature.** A finding whose root cause ends with "to change: ...": a pod the scheduler cannot place, a
container whose Secret or ConfigMap is missing, a node NotReady or under pressure.

**Diagnose.** The finding names the cause and the field or setting: \`spec.template.spec.containers[0].resources.requests.cpu\`,
a toleration for a taint, the missing Secret and key, the node's condition and the pods on it.

**Remediate.** By hand: the change is a decision about the workload or the cluster (more capacity or smaller
requests, which Secret to create), so faultline does not make it.

**Verify.** The detectors find nothing left in the namespace.
`;
  },
};
