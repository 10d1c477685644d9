// Pods the scheduler cannot place, or whose volumes cannot be bound: the scheduler's message translated into what
// to change (requests, tolerations, selectors or affinity, claims, host ports). A pod only just created is left
// alone for a moment: the scheduler and the volume binder take a few seconds even on a healthy cluster.
import { collectWorkloads, type ClaimInfo, type EventInfo, type NodeInfo, type PodInfo, type WorkloadSnapshot } from './snapshot.js';
import { resourceId, type Detector, type Finding } from './types.js';
import { eventsFor } from './pod-health.js';

/** A pod Pending for less than this is still being scheduled. */
export const PENDING_GRACE_MS = 60_000;

/** One reason of "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {...}" in words. */
export function schedulingReason(part: string, pod: PodInfo, claims: ClaimInfo[], nodes: NodeInfo[] = []): { why: string; change: string } {
  const p = part.trim().replace(/^\d+ /, '');
  const res = /^Insufficient (\S+)/.exec(p);
  if (res) return { why: `no node has enough free ${res[1]} for its requests`, change: `lower spec.containers[].resources.requests.${res[1]} of ${pod.owner ? `${pod.owner.kind} ${pod.owner.name}'s template` : 'the pod'}, or add capacity` };
  const taint = /untolerated taint\(?s?\)? ?(?:\{([^}]*)\})?/.exec(p);
  if (taint) {
    const named = taint[1]?.trim() || untolerated(pod, nodes).join(', ') || 'a taint';
    const key = (taint[1] ?? untolerated(pod, nodes)[0] ?? 'the taint').split(/[:=]/)[0]!.trim();
    return { why: `nodes carry a taint it does not tolerate (${named})`, change: `add a toleration for ${key} to the pod template, or remove the taint if it is left over` };
  }
  if (/didn't match Pod's node affinity\/selector|node affinity\/selector/.test(p)) return { why: "no node matches its nodeSelector or node affinity", change: 'spec.template.spec.nodeSelector / affinity.nodeAffinity: match a label the nodes have, or label a node' };
  if (/didn't match pod (anti-)?affinity rules|pod affinity|anti-affinity/.test(p)) return { why: 'its pod affinity or anti-affinity rules fit no node', change: 'spec.template.spec.affinity.podAffinity/podAntiAffinity, or the replicas against the nodes' };
  if (/unbound immediate PersistentVolumeClaims/.test(p)) {
    const pending = (pod.claims ?? []).map((c) => claims.find((x) => x.namespace === pod.namespace && x.name === c)).filter((c) => c && c.phase !== 'Bound');
    const names = pending.map((c) => `${c!.name}${c!.storageClass ? ` (storageClass ${c!.storageClass})` : ' (no storageClass)'}`);
    return { why: `its PersistentVolumeClaim${names.length === 1 ? '' : 's'} ${names.join(', ') || '(unknown)'} are not bound`, change: 'a StorageClass that provisions them (or a matching PersistentVolume); see the claims\' own events' };
  }
  if (/volume node affinity conflict/.test(p)) return { why: "its volume lives on a node (zone) it cannot be scheduled to", change: "the pod's node placement, or move the volume" };
  if (/didn't have free ports|free ports for the requested pod ports/.test(p)) return { why: 'the hostPort it asks for is taken on every node', change: 'drop or change spec.containers[].ports[].hostPort' };
  if (/node\(s\) were unschedulable|unschedulable/.test(p)) return { why: 'nodes are cordoned (unschedulable)', change: 'uncordon the nodes once their maintenance is over' };
  if (/Too many pods/.test(p)) return { why: 'the nodes are at their pod limit', change: 'more nodes, or the kubelet\'s maxPods' };
  return { why: p, change: "what the scheduler's message names" };
}

/** The scheduler's reasons: what follows "nodes are available:" up to its first sentence's end (the preemption and
 *  claim notes after it are not reasons). */
export function reasonsOf(message: string): string[] {
  const after = /nodes are available: (.*)$/s.exec(message)?.[1] ?? message;
  const body = after.split(/\. (?=[a-z0-9])|\.$/)[0] ?? after;
  return body.split(/, (?=\d+ )/).filter(Boolean);
}

function tolerates(t: NonNullable<PodInfo['tolerations']>[number], taint: string): boolean {
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(taint);
  if (!m) return false;
  const [, key, value, effect] = m;
  if (t.effect && t.effect !== effect) return false;
  if (!t.key) return t.operator === 'Exists';
  if (t.key !== key) return false;
  return t.operator === 'Exists' || (t.value ?? '') === (value ?? '');
}

/** The nodes' scheduling taints this pod does not tolerate (newer schedulers no longer print them). */
function untolerated(pod: PodInfo, nodes: NodeInfo[]): string[] {
  const taints = new Set(nodes.flatMap((n) => n.taints).filter((t) => /:(NoSchedule|NoExecute)$/.test(t)));
  return [...taints].filter((t) => !(pod.tolerations ?? []).some((tol) => tolerates(tol, t)));
}

const failedScheduling = (s: WorkloadSnapshot, pod: PodInfo): EventInfo[] => eventsFor(s, pod.namespace, 'Pod', pod.name).filter((e) => e.reason === 'FailedScheduling');

export function analyzePending(s: WorkloadSnapshot): Finding[] {
  const now = Date.parse(s.takenAt);
  const out: Finding[] = [];
  for (const pod of s.pods ?? []) {
    if (pod.phase !== 'Pending' || pod.nodeName || !pod.unschedulable) continue;
    if (pod.createdAt && now - Date.parse(pod.createdAt) < PENDING_GRACE_MS) continue;
    const message = pod.unschedulable.message ?? failedScheduling(s, pod)[0]?.message ?? '';
    const reasons = reasonsOf(message).map((r) => schedulingReason(r, pod, s.claims ?? [], s.nodes ?? []));
    const top = pod.owner ? `${pod.owner.kind} ${pod.owner.name}` : `Pod ${pod.name}`;
    out.push({
      detector: 'pod-pending',
      severity: 'warning',
      summary: `Pod ${pod.namespace}/${pod.name} cannot be scheduled: ${reasons.map((r) => r.why).join('; ') || message}`,
      rootCause: `${reasons.map((r) => r.why).join('; ') || message}; to change: ${reasons.map((r) => r.change).join('; ') || "what the scheduler's message names"}`,
      evidence: [`scheduler: ${message}`, ...failedScheduling(s, pod).map((e) => `FailedScheduling x${e.count}: ${e.message}`).slice(0, 2), `owner: ${top}`],
      runbook: 'manual-change',
      resources: [resourceId(pod.namespace, 'Pod', pod.name), ...(pod.owner ? [resourceId(pod.namespace, pod.owner.kind, pod.owner.name)] : [])],
    });
  }
  return out;
}

export const podPendingDetector: Detector<WorkloadSnapshot> = {
  id: 'pod-pending',
  description: "pods the scheduler cannot place or whose claims are unbound, with the scheduler's reason in words",
  generic: true,
  collect: collectWorkloads,
  analyze: analyzePending,
};
