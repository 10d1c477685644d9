// Containers that cannot start because what they reference is missing: a Secret, a ConfigMap, or a key in one,
// for env (CreateContainerConfigError) or a volume (the kubelet's FailedMount), named by kind, name and key only,
// never a value.
import { containerPath } from './pod-health.js';
import { collectWorkloads, type WorkloadSnapshot } from './snapshot.js';
import { resourceId, type Detector, type Finding } from './types.js';

export interface MissingRef {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  key?: string;
}

/** The missing object (and key) in a CreateContainerConfigError message, or undefined when it names none. */
export function missingRef(message: string): MissingRef | undefined {
  const key = /couldn't find key (\S+) in (Secret|ConfigMap) (?:[\w.-]+\/)?([\w.-]+)/.exec(message);
  if (key) return { kind: key[2] as MissingRef['kind'], name: key[3]!, key: key[1]! };
  const obj = /(secret|configmap) "([^"]+)" not found/i.exec(message);
  if (obj) return { kind: obj[1]!.toLowerCase() === 'secret' ? 'Secret' : 'ConfigMap', name: obj[2]! };
  return undefined;
}

export function analyzeContainerConfig(s: WorkloadSnapshot): Finding[] {
  const out: Finding[] = [];
  for (const pod of s.pods ?? []) {
    for (const st of pod.statuses) {
      if (st.waitingReason !== 'CreateContainerConfigError' || !st.waitingMessage) continue;
      const ref = missingRef(st.waitingMessage);
      const what = ref ? `${ref.kind} ${pod.namespace}/${ref.name}${ref.key ? ` has no key ${ref.key}` : ' does not exist'}` : st.waitingMessage;
      out.push({
        detector: 'container-config',
        severity: 'critical',
        summary: `Pod ${pod.namespace}/${pod.name} container ${st.name} cannot start: ${what}`,
        rootCause: `${what}, and container ${st.name} needs it (env or volume); to change: ${ref ? `create ${ref.kind} ${ref.name}${ref.key ? ` with key ${ref.key}` : ''} in ${pod.namespace}, or fix the reference in ${containerPath(pod, st.name)}` : 'what the message names'}`,
        evidence: [`container ${st.name}: CreateContainerConfigError: ${st.waitingMessage}`],
        runbook: 'manual-change',
        resources: [resourceId(pod.namespace, 'Pod', pod.name), ...(pod.owner ? [resourceId(pod.namespace, pod.owner.kind, pod.owner.name)] : []), ...(ref ? [resourceId(pod.namespace, ref.kind, ref.name)] : [])],
      });
    }
    // a volume's Secret or ConfigMap: the pod never gets to its containers; the kubelet says so in FailedMount
    if (pod.phase !== 'Pending' || out.some((f) => f.resources[0] === resourceId(pod.namespace, 'Pod', pod.name))) continue;
    const mount = (s.events ?? []).find((e) => e.namespace === pod.namespace && e.involvedKind === 'Pod' && e.involvedName === pod.name && e.reason === 'FailedMount' && missingRef(e.message));
    if (!mount) continue;
    const ref = missingRef(mount.message)!;
    const volume = /for volume "([^"]+)"/.exec(mount.message)?.[1];
    const what = `${ref.kind} ${pod.namespace}/${ref.name}${ref.key ? ` has no key ${ref.key}` : ' does not exist'}`;
    out.push({
      detector: 'container-config',
      severity: 'critical',
      summary: `Pod ${pod.namespace}/${pod.name} cannot start: ${what}${volume ? ` (volume ${volume})` : ''}`,
      rootCause: `${what}, and the pod mounts it${volume ? ` as volume ${volume}` : ''}; to change: create ${ref.kind} ${ref.name}${ref.key ? ` with key ${ref.key}` : ''} in ${pod.namespace}, or fix ${pod.owner ? 'spec.template.' : ''}spec.volumes${volume ? ` (${volume})` : ''}`,
      evidence: [`FailedMount x${mount.count}: ${mount.message}`],
      runbook: 'manual-change',
      resources: [resourceId(pod.namespace, 'Pod', pod.name), ...(pod.owner ? [resourceId(pod.namespace, pod.owner.kind, pod.owner.name)] : []), resourceId(pod.namespace, ref.kind, ref.name)],
    });
  }
  return out;
}

export const containerConfigDetector: Detector<WorkloadSnapshot> = {
  id: 'container-config',
  description: 'containers that cannot start because a Secret, ConfigMap or key they reference is missing (names only)',
  generic: true,
  collect: collectWorkloads,
  analyze: analyzeContainerConfig,
};
