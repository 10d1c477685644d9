// Nodes that are NotReady or under pressure, with the pods on them that it affects.
import { collectWorkloads, type WorkloadSnapshot } from './snapshot.js';
import { resourceId, type Detector, type Finding } from './types.js';

const WHAT: Record<string, { means: string; change: string }> = {
  Ready: { means: 'is NotReady: its kubelet does not report (pods on it are not served and are evicted after the tolerations expire)', change: "the node's kubelet and container runtime (systemctl status kubelet), its network to the API server" },
  MemoryPressure: { means: 'has MemoryPressure: the kubelet evicts pods to free memory', change: 'the pods\' memory requests and limits against the node, or more memory' },
  DiskPressure: { means: 'has DiskPressure: the kubelet evicts pods and garbage-collects images', change: 'free space on the node (images, logs, emptyDir volumes under /var/lib/kubelet and /var/lib/containerd)' },
  PIDPressure: { means: 'has PIDPressure: too many processes', change: 'the pod that forks without bound, or the pid limit' },
  NetworkUnavailable: { means: "has NetworkUnavailable: its pod network is not set up", change: "the CNI on the node (its DaemonSet pod's logs)" },
};

export function analyzeNodes(s: WorkloadSnapshot): Finding[] {
  const out: Finding[] = [];
  for (const n of s.nodes ?? []) {
    for (const p of n.problems) {
      const w = WHAT[p.type] ?? { means: `has ${p.type}=${p.status}`, change: 'what the condition names' };
      const pods = (s.pods ?? []).filter((x) => x.nodeName === n.name && x.phase !== 'Succeeded' && x.phase !== 'Failed');
      out.push({
        detector: 'node-health',
        severity: p.type === 'Ready' ? 'critical' : 'warning',
        summary: `Node ${n.name} ${w.means.split(':')[0]}${p.since ? ` since ${p.since}` : ''}; ${pods.length} pod(s) on it${pods.length ? `: ${pods.slice(0, 5).map((x) => `${x.namespace}/${x.name}`).join(', ')}${pods.length > 5 ? ', ...' : ''}` : ''}`,
        rootCause: `node ${n.name} ${w.means}${p.reason ? ` (${p.reason}${p.message ? `: ${p.message}` : ''})` : ''}; to change: ${w.change}`,
        evidence: [`condition ${p.type}=${p.status}${p.reason ? ` ${p.reason}` : ''}${p.message ? `: ${p.message}` : ''}`, ...(n.taints.length ? [`taints: ${n.taints.join(', ')}`] : []), ...pods.map((x) => `pod ${x.namespace}/${x.name} on it`)],
        runbook: 'manual-change',
        resources: [resourceId('', 'Node', n.name), ...pods.map((x) => resourceId(x.namespace, 'Pod', x.name))],
      });
    }
  }
  return out;
}

export const nodeHealthDetector: Detector<WorkloadSnapshot> = {
  id: 'node-health',
  description: 'nodes NotReady or under memory, disk or PID pressure, with the pods they affect',
  generic: true,
  collect: collectWorkloads,
  analyze: analyzeNodes,
};
