// Generic crash-loop runbook: explains, never changes anything. A crash loop has too many causes for a safe
// automatic fix; the diagnosis gives a person the exit reason and the last log lines.
import { z } from 'zod';
import { isNotFound } from '../cluster/kube.js';
import { collectWorkloads } from '../detectors/snapshot.js';
import { crashingContainers, describeCrash } from '../detectors/pod-health.js';
import { redactText } from '../core/redact.js';
import { parseResource, type Diagnosis, type Runbook } from './types.js';

const LOG_LINES = 20;

const VerifyParams = z.object({ namespace: z.string().min(1), labelSelector: z.string().optional() }).strict();

export const crashloopRunbook: Runbook = {
  id: 'crashloop',
  title: 'Container in CrashLoopBackOff',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding): Promise<Diagnosis> {
    const { namespace, name } = parseResource(finding.resources[0] ?? '');
    const details: string[] = [];
    let pod;
    try {
      pod = await ctx.kube.core.readNamespacedPod({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { runbook: 'crashloop', summary: `pod ${namespace}/${name} is gone`, details, data: { namespace, pod: name } };
    }
    for (const s of pod.status?.containerStatuses ?? []) {
      const term = s.lastState?.terminated;
      if (!term && s.restartCount === 0) continue;
      details.push(`container ${s.name}: restarts ${s.restartCount}, last exit ${term?.exitCode ?? '?'} (${term?.reason ?? 'unknown'})`);
      try {
        const log = await ctx.kube.core.readNamespacedPodLog({ name, namespace, container: s.name, previous: true, tailLines: LOG_LINES });
        // logs can print credentials; they pass through the same redaction as reports
        details.push(...redactText(String(log)).split('\n').filter(Boolean).map((l) => `  | ${l}`));
      } catch {
        details.push('  (no previous log available)');
      }
    }
    return { runbook: 'crashloop', summary: finding.rootCause, details, data: { namespace, pod: name } };
  },

  async remediate(_ctx, diagnosis) {
    return {
      mode: 'manual',
      actions: [
        `no automatic remediation for a generic crash loop (${diagnosis.summary})`,
        'read the diagnosis: the exit code and the last log lines name what the container could not do',
      ],
    };
  },

  async verify(ctx, raw) {
    const p = VerifyParams.parse(raw);
    const snap = await collectWorkloads({ ...ctx, namespaces: [p.namespace] });
    const bad = snap.pods.flatMap((pod) => crashingContainers(pod, snap.takenAt).map((c) => `${pod.namespace}/${pod.name} ${c.name} ${describeCrash(c)}`));
    return { ok: bad.length === 0, details: bad.length ? bad : [`no crash-looping pod in ${p.namespace}`] };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: container in CrashLoopBackOff

**Signature.** A pod's container is in \`CrashLoopBackOff\` or its restart count keeps climbing; events show
\`Back-off restarting failed container\` and often \`Liveness probe failed\`. The standard alert
(KubePodCrashLooping) waits 15 minutes.

**Diagnose.** The last termination reason and exit code say how the container dies: \`OOMKilled\` (memory limit),
exit 1 or 2 (the program gave up: read its last log lines), 137 after a failed liveness probe (the kubelet killed
it: is the probe wrong, or is the program stuck?), 139 (crash). \`faultline doctor\` prints these, and the runbook's
diagnosis adds the previous container's last ${LOG_LINES} log lines (redacted).

**Look for a deeper cause first.** A crash-looping pod is often a dependant: it cannot reach a database or registry
that is itself broken. When a more specific detector explains the pod (for example a StatefulSet that cannot create
its pod), faultline reports that finding instead and lists this pod as a dependant.

**Remediate (manual).** No automatic change: restarting or deleting the pod hides the evidence and rarely fixes the
cause. Fix what the exit reason points to (limits, probe thresholds, configuration, the dependency).

**Verify.** No pod in the namespace is crash-looping.
`;
